using Microsoft.Extensions.AI;
using LlmStack.Api.Errors;

namespace LlmStack.Api.Backends.Upstream;

/// <summary>
/// Refuses log probabilities (<see cref="LlmStackChatOptions.LogprobsKey"/>) for a backend whose client here does not
/// read them back from its server: a 400 saying so, never a reply that silently leaves them out.
/// </summary>
internal sealed class LogprobsRefusalChatClient(IChatClient inner, string model, string backend) : DelegatingChatClient(inner)
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
        if (LlmStackChatOptions.LogprobsOf(options) is not null)
        {
            throw ApiErrorException.InvalidRequest(
                $"The model '{model}' cannot return log probabilities: this server reads them from the embedded engine only, not from its {backend} backend.",
                "logprobs", "unsupported_parameter");
        }
    }
}
