using Microsoft.Extensions.AI;

namespace LlmStack.Api.Backends;

/// <summary>
/// A backend's way to a text completion (<see cref="LlmStackChatOptions.RawPromptKey"/>) beside its chat: a call with a
/// raw prompt goes to <see cref="StreamAsync"/> (and <see cref="CompleteAsync"/>), any other call on to the chat client.
/// </summary>
internal abstract class RawPromptChatClient(IChatClient inner) : DelegatingChatClient(inner)
{
    public override Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        LlmStackChatOptions.RawPromptOf(messages, options) is { } raw
            ? CompleteAsync(raw, options, cancellationToken)
            : base.GetResponseAsync(messages, options, cancellationToken);

    public override IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        LlmStackChatOptions.RawPromptOf(messages, options) is { } raw
            ? StreamAsync(raw, options, cancellationToken)
            : base.GetStreamingResponseAsync(messages, options, cancellationToken);

    /// <summary>The whole completion; by default the stream's updates, joined.</summary>
    protected virtual async Task<ChatResponse> CompleteAsync(RawPrompt raw, ChatOptions? options, CancellationToken cancellationToken) =>
        await StreamAsync(raw, options, cancellationToken).ToChatResponseAsync(cancellationToken);

    /// <summary>The completion's text as it comes, its last update with the finish reason and usage.</summary>
    protected abstract IAsyncEnumerable<ChatResponseUpdate> StreamAsync(RawPrompt raw, ChatOptions? options, CancellationToken cancellationToken);
}
