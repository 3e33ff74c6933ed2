using Microsoft.Extensions.AI;
using LlmStack.Api.Errors;

namespace LlmStack.Api.Backends.Upstream;

/// <summary>
/// Refuses what a backend's client here cannot give back from its server - log probabilities
/// (<see cref="LlmStackChatOptions.LogprobsKey"/>): a 400 saying so, never a reply that silently leaves them out.
/// (Several choices never reach it: <see cref="FanOutChatClient"/> makes them calls of one.)
/// </summary>
/// <param name="logprobs">Which calls' log probabilities the backend reads back from its server.</param>
internal sealed class UnsupportedOptionsChatClient(IChatClient inner, string model, string backend, LogprobsSupport logprobs = LogprobsSupport.None) : DelegatingChatClient(inner)
{
    public override Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        Refuse(messages, options);
        return base.GetResponseAsync(messages, options, cancellationToken);
    }

    public override IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        Refuse(messages, options);
        return base.GetStreamingResponseAsync(messages, options, cancellationToken);
    }

    private void Refuse(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        if (LlmStackChatOptions.LogprobsOf(options) is not null && logprobs switch
        {
            LogprobsSupport.All => false,
            LogprobsSupport.TextCompletions => LlmStackChatOptions.RawPromptOf(messages, options) is null,
            _ => true,
        })
        {
            throw ApiErrorException.InvalidRequest(
                logprobs == LogprobsSupport.TextCompletions
                    ? $"The model '{model}' returns log probabilities for text completions (/v1/completions) only: its {backend} backend's client does not read them back from a chat."
                    : $"The model '{model}' cannot return log probabilities: this server reads them from the embedded engine, OpenAI-compatible upstreams and Ollama's text completions, not from its {backend} backend.",
                "logprobs", "unsupported_parameter");
        }
    }
}

/// <summary>Which calls a backend reads log probabilities back for (<see cref="LlmStackChatOptions.LogprobsKey"/>).</summary>
internal enum LogprobsSupport
{
    /// <summary>None: a request that asks for them is a 400.</summary>
    None,

    /// <summary>Text completions (<see cref="LlmStackChatOptions.RawPromptKey"/>) only; a chat that asks is a 400.</summary>
    TextCompletions,

    /// <summary>Chats and text completions.</summary>
    All,
}
