using System.Runtime.CompilerServices;
using LlmStack.Api.Telemetry;
using Microsoft.Extensions.AI;

namespace LlmStack.Api.Pipeline;

/// <summary>
/// The outermost layer of one request's call to its model: counts the call in flight and records every update
/// (first token, usage, finish reason) into the request's <see cref="RequestOutcome"/> as it passes.
/// </summary>
internal sealed class OutcomeChatClient(IChatClient pipeline, RequestOutcome outcome, LlmStackMetrics metrics) : DelegatingChatClient(pipeline)
{
    public override async Task<ChatResponse> GetResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        using var inFlight = metrics.InFlight(outcome.Model?.Id, outcome.Model?.Backend, outcome.Operation);
        var response = await base.GetResponseAsync(messages, options, cancellationToken);
        outcome.Observe(response);
        return response;
    }

    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var inFlight = metrics.InFlight(outcome.Model?.Id, outcome.Model?.Backend, outcome.Operation);
        await foreach (var update in base.GetStreamingResponseAsync(messages, options, cancellationToken))
        {
            outcome.Observe(update);
            yield return update;
        }
        // Some backends end a cancelled generation without throwing: that is no finished reply.
        cancellationToken.ThrowIfCancellationRequested();
        outcome.EndChatReply();
    }
}
