using LlmStack.Api.Backends.Upstream;

namespace LlmStack.Api.Backends.OpenAI;

internal static class OpenAIBackendExtensions
{
    /// <summary>The <c>openai</c> backend (any OpenAI-compatible server), with an HTTP client for each model configured on it.</summary>
    public static IHostApplicationBuilder AddOpenAIBackend(this IHostApplicationBuilder builder)
    {
        builder.AddUpstreamHttpClients(OpenAIBackend.BackendName);
        builder.Services.AddSingleton<IModelBackend, OpenAIBackend>();
        return builder;
    }
}
