using LlmStack.Api.Backends.Ollama;
using LlmStack.Api.Backends.OpenAI;
using LlmStack.Api.Backends.Upstream;

namespace LlmStack.Api.Backends;

public static class BackendExtensions
{
    /// <summary>Registers every backend a model can name in <c>LlmStack:Models:&lt;n&gt;:Backend</c>.</summary>
    public static IHostApplicationBuilder AddModelBackends(this IHostApplicationBuilder builder)
    {
        UpstreamHttpClients.AddTo(builder.Services);
        builder.Services.AddSingleton<IModelBackend, OllamaBackend>();
        builder.Services.AddSingleton<IModelBackend, OpenAIBackend>();
        return builder;
    }
}
