using LlmStack.Api.Backends.Embedded;
using LlmStack.Api.Backends.Embedded.Hub;
using LlmStack.Api.Backends.Ollama;
using LlmStack.Api.Backends.OpenAI;
using LlmStack.Api.Backends.Upstream;
using LlmStack.Api.Configuration;
using LlmStack.Api.Models;
using LlmStack.Api.Pipeline;

namespace LlmStack.Api.Backends;

internal static class BackendExtensions
{
    /// <summary>Registers every backend a model can name in <c>LlmStack:Models:&lt;n&gt;:Backend</c>.</summary>
    public static IHostApplicationBuilder AddModelBackends(this IHostApplicationBuilder builder)
    {
        builder.AddUpstreamHttpClients(OllamaBackend.BackendName, OpenAIBackend.BackendName);
        builder.Services.AddSingleton<IModelBackend, OllamaBackend>();
        builder.Services.AddSingleton<IModelBackend, OpenAIBackend>();
        builder.AddHubModels();
        builder.Services.AddSingleton<IMachineMemory, MachineMemory>();
        builder.Services.AddSingleton(sp => new EmbeddedBackend(sp.GetRequiredService<ILoggerFactory>(), sp.GetService<Telemetry.LlmStackMetrics>(),
            sp.GetRequiredService<HubModels>(), sp.GetRequiredService<IMachineMemory>(), sp.GetRequiredService<IConfiguration>()));
        builder.Services.AddSingleton<IModelBackend>(sp => sp.GetRequiredService<EmbeddedBackend>());
        builder.Services.AddSingleton<IDemoModelSource, DemoModel>();
        return builder;
    }
}
