using LlmStack.Api.Limits;
using LlmStack.Api.Telemetry;
using Microsoft.Extensions.Options;

namespace LlmStack.Api.Models;

public static class ModelCatalogExtensions
{
    /// <summary>
    /// Binds <c>LlmStack:Models</c>, validates it at start (a bad entry stops the API with a message naming
    /// the key), builds the <see cref="ModelCatalog"/> before the first request, and adds the readiness check.
    /// </summary>
    public static IHostApplicationBuilder AddModelCatalog(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptionsWithValidateOnStart<LlmStackOptions>()
            .Bind(builder.Configuration.GetSection(LlmStackOptions.SectionName));
        builder.Services.AddSingleton<IValidateOptions<LlmStackOptions>, LlmStackOptionsValidator>();

        builder.Services.AddSingleton<LlmStackMetrics>();
        builder.Services.AddSingleton<ChatPipeline>();
        // Every model's pipeline (and the embeddings endpoint) passes its admission gate.
        builder.Services.AddSingleton<ModelAdmission>();
        builder.Services.AddSingleton<ModelCatalog>();
        builder.Services.AddHostedService<ModelCatalogLoader>();

        builder.Services.AddHealthChecks()
            .AddCheck<ModelReadinessHealthCheck>("models", tags: [Extensions.ReadyTag]);
        return builder;
    }
}
