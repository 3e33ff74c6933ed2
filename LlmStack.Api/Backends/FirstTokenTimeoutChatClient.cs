using System.Runtime.CompilerServices;
using LlmStack.Api.Errors;
using LlmStack.Api.Models;
using Microsoft.Extensions.AI;

namespace LlmStack.Api.Backends;

/// <summary>
/// Bounds how long a call waits for the model to start answering (<c>LlmStack:Models:&lt;n&gt;:FirstTokenTimeout</c>):
/// a stream until its first token, a non-streamed call until its whole reply. Past the bound the call is
/// canceled at the backend and fails with 504 backend_timeout; once the first token has arrived, a stream runs
/// for as long as it needs. Applies to every backend, so a queued or stuck request never hangs.
/// </summary>
public sealed class FirstTokenTimeoutChatClient(IChatClient inner, string model, TimeSpan timeout) : DelegatingChatClient(inner)
{
    public override async Task<ChatResponse> GetResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            return await base.GetResponseAsync(messages, options, deadline.Token);
        }
        catch (OperationCanceledException ex) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw TimedOut(model, timeout, ex);
        }
    }

    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        await using var updates = base.GetStreamingResponseAsync(messages, options, deadline.Token)
            .GetAsyncEnumerator(deadline.Token);
        var waitingForFirstToken = true;
        while (true)
        {
            try
            {
                if (!await updates.MoveNextAsync())
                {
                    break;
                }
            }
            catch (OperationCanceledException ex) when (waitingForFirstToken && deadline.IsCancellationRequested &&
                                                        !cancellationToken.IsCancellationRequested)
            {
                throw TimedOut(model, timeout, ex);
            }

            if (waitingForFirstToken && IsToken(updates.Current))
            {
                waitingForFirstToken = false;
                deadline.CancelAfter(Timeout.InfiniteTimeSpan);
                // The timer may have fired between the token's arrival and the line above.
                if (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
                {
                    throw TimedOut(model, timeout, null);
                }
            }
            yield return updates.Current;
        }
    }

    internal static ApiErrorException TimedOut(string model, TimeSpan timeout, Exception? inner) =>
        ApiErrorException.BackendTimeout(model,
            $"no token within {timeout.TotalSeconds:0.###} s (FirstTokenTimeout).", inner);

    // Servers may open a stream with an empty, role-only update before the prompt is even processed;
    // the bound is on the model's answer, so only content or a finish counts.
    private static bool IsToken(ChatResponseUpdate update) =>
        update.FinishReason is not null || update.Contents.Any(content => content is not TextContent { Text: null or "" });
}

public static class FirstTokenTimeoutChatClientBuilderExtensions
{
    /// <summary>Adds <see cref="FirstTokenTimeoutChatClient"/> with the model's <see cref="ServedModel.FirstTokenTimeout"/>.</summary>
    public static ChatClientBuilder UseFirstTokenTimeout(this ChatClientBuilder builder, ServedModel model) =>
        builder.Use(inner => new FirstTokenTimeoutChatClient(inner, model.Id, model.FirstTokenTimeout));
}
