using LlmStack.Api.Backends.Upstream;

namespace LlmStack.Api.Backends.Ollama;

internal static class OllamaBackendExtensions
{
    /// <summary>The <c>ollama</c> backend, with an HTTP client for each model configured on it.</summary>
    public static IHostApplicationBuilder AddOllamaBackend(this IHostApplicationBuilder builder)
    {
        builder.AddUpstreamHttpClients(OllamaBackend.BackendName);
        builder.Services.AddSingleton<IModelBackend, OllamaBackend>();
        return builder;
    }
}
