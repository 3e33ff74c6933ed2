using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace LlmStack.Api.Pipeline;

/// <summary>
/// The outermost layer of one request's call to its model: records every update (first token, usage, finish reason)
/// into the request's <see cref="RequestOutcome"/> as it passes, and settles the reply's tokens when it ends.
/// </summary>
internal sealed class OutcomeChatClient(IChatClient pipeline, RequestOutcome outcome) : DelegatingChatClient(pipeline)
{
    public override async Task<ChatResponse> GetResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var response = await base.GetResponseAsync(messages, options, cancellationToken);
        await outcome.ObserveAsync(response);
        return response;
    }

    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var update in base.GetStreamingResponseAsync(messages, options, cancellationToken))
        {
            outcome.Observe(update);
            yield return update;
        }
        // Some backends end a cancelled generation without throwing: that is no finished reply.
        cancellationToken.ThrowIfCancellationRequested();
        await outcome.EndChatReplyAsync();
    }
}
