using Microsoft.Extensions.AI;
using LlmStack.Api.Errors;

namespace LlmStack.Api.Backends.Upstream;

/// <summary>
/// Refuses what a backend's client here cannot give back from its server - log probabilities
/// (<see cref="LlmStackChatOptions.LogprobsKey"/>), several choices (<see cref="LlmStackChatOptions.ChoicesKey"/>): a
/// 400 saying so, never a reply that silently leaves them out.
/// </summary>
/// <param name="refuseLogprobs">False for a backend that reads log probabilities back from its server.</param>
internal sealed class UnsupportedOptionsChatClient(IChatClient inner, string model, string backend, bool refuseLogprobs = true) : DelegatingChatClient(inner)
{
    public override Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        Refuse(options);
        return base.GetResponseAsync(messages, options, cancellationToken);
    }

    public override IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        Refuse(options);
        return base.GetStreamingResponseAsync(messages, options, cancellationToken);
    }

    private void Refuse(ChatOptions? options)
    {
        if (refuseLogprobs && LlmStackChatOptions.LogprobsOf(options) is not null)
        {
            throw ApiErrorException.InvalidRequest(
                $"The model '{model}' cannot return log probabilities: this server reads them from the embedded engine and OpenAI-compatible upstreams, not from its {backend} backend.",
                "logprobs", "unsupported_parameter");
        }
        if (LlmStackChatOptions.ChoicesOf(options) > 1)
        {
            throw ApiErrorException.InvalidRequest(
                $"The model '{model}' generates one choice per request: this server generates several ('n' > 1) on the embedded engine only, not on its {backend} backend.",
                "n", "unsupported_value");
        }
    }
}
