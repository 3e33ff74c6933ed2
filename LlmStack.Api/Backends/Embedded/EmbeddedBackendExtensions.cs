using LlmStack.Api.Backends.Embedded.Hub;

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
        builder.Services.AddSingleton(sp => new EmbeddedBackend(sp.GetRequiredService<ILoggerFactory>(),
            sp.GetRequiredService<HubModels>(), sp.GetRequiredService<IMachineMemory>(), sp.GetRequiredService<IConfiguration>(),
            sp.GetRequiredService<PrefixCacheMetrics>()));
        builder.Services.AddSingleton<IModelBackend>(sp => sp.GetRequiredService<EmbeddedBackend>());
        builder.Services.AddSingleton<IDemoModelSource, DemoModel>();
        return builder;
    }
}
