using LlmStack.Api.Backends.Embedded.Hub;
using LlmStack.Api.Configuration;
using Microsoft.Extensions.Options;

namespace LlmStack.Api.Backends.Embedded;

internal static class EmbeddedBackendExtensions
{
    /// <summary>
    /// The <c>embedded</c> backend (GGUF files run in-process by llama.cpp, from a path or downloaded from a hub), and
    /// the built-in demo model it serves when no model is configured.
    /// </summary>
    public static IHostApplicationBuilder AddEmbeddedBackend(this IHostApplicationBuilder builder)
    {
        builder.AddHubModels();
        builder.Services.AddSingleton<IMachineMemory, MachineMemory>();
        builder.Services.AddSingleton<PrefixCacheMetrics>();
        builder.Services.AddSingleton(sp =>
        {
            var configuration = sp.GetRequiredService<IConfiguration>();
            // Before llama.cpp is first called; the folder itself is checked with the rest of the options at start.
            LlamaCppLibrary.Use(configuration[$"{LlmStackOptions.SectionName}:{nameof(LlmStackOptions.LlamaCppLibraries)}"]);
            return new EmbeddedBackend(sp.GetRequiredService<ILoggerFactory>(), sp.GetRequiredService<HubModels>(), sp.GetRequiredService<IMachineMemory>(),
                configuration, sp.GetRequiredService<PrefixCacheMetrics>());
        });
        builder.Services.AddSingleton<IModelBackend>(sp => sp.GetRequiredService<EmbeddedBackend>());
        builder.Services.AddSingleton<IValidateOptions<LlmStackOptions>, LlamaCppLibrariesValidator>();
        builder.Services.AddSingleton<IDemoModelSource, DemoModel>();
        return builder;
    }
}
