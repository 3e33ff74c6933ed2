using LlmStack.Api.Configuration;
using LlmStack.Api.Limits;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace LlmStack.Api.Pipeline;

internal static class ModelCatalogExtensions
{
    /// <summary>
    /// Binds <c>LlmStack:Models</c>, validates it at start (a bad entry stops the API with a message naming
    /// the key), loads the <see cref="ModelCatalog"/> at start, before the first request, and adds the readiness check.
    /// </summary>
    public static IHostApplicationBuilder AddModelCatalog(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptionsWithValidateOnStart<LlmStackOptions>()
            .Bind(builder.Configuration.GetSection(LlmStackOptions.SectionName));
        builder.Services.AddSingleton<IValidateOptions<LlmStackOptions>, LlmStackOptionsValidator>();

        // Every model's pipeline (chat and embeddings) passes its admission gate.
        builder.Services.AddSingleton<ModelAdmission>();
        builder.Services.AddSingleton<ModelPipelineBuilder>();
        builder.Services.AddSingleton<ReplicatedModels>();
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<ModelCatalog>();
        builder.Services.AddHostedService<ModelCatalogLoader>();

        builder.Services.AddHealthChecks()
            .AddCheck<ModelReadinessHealthCheck>("models", tags: [Extensions.ReadyTag]);
        return builder;
    }
}
