using System.Runtime.CompilerServices;
using LlmStack.Api.Errors;
using Microsoft.Extensions.AI;

namespace LlmStack.Api.Pipeline;

/// <summary>
/// Bounds how long a call waits for the model to start answering (<c>LlmStack:Models:&lt;n&gt;:FirstTokenTimeout</c>):
/// a stream until its first token, a non-streamed call until its whole reply. Past the bound the call is
/// canceled at the backend and fails with 504 backend_timeout; once the first token has arrived, a stream runs
/// for as long as it needs. Applies to every backend, so a queued or stuck request never hangs.
/// </summary>
internal sealed class FirstTokenTimeoutChatClient(IChatClient inner, string model, TimeSpan timeout) : DelegatingChatClient(inner)
{
    public override Task<ChatResponse> GetResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        Deadline.BoundAsync(model, timeout, cancellationToken, bounded => base.GetResponseAsync(messages, options, bounded));

    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var deadline = new Deadline(model, timeout, cancellationToken);
        var waiting = true;
        var updates = base.GetStreamingResponseAsync(messages, options, deadline.Token)
            .MapErrors(ex => waiting && ex is OperationCanceledException && deadline.Expired ? deadline.Exceeded(ex) : null);
        await foreach (var update in updates)
        {
            if (waiting && update.HasContent())
            {
                waiting = false;
                deadline.Stop();
                // The timer may have fired between the token's arrival and the line above.
                if (deadline.Expired)
                {
                    throw deadline.Exceeded(null);
                }
            }
            yield return update;
        }
    }
}
