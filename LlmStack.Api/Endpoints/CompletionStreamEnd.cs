using System.Text.Json.Serialization.Metadata;
using LlmStack.Api.Contracts;
using LlmStack.Api.Pipeline;

namespace LlmStack.Api.Endpoints;

/// <summary>
/// How a chat or text completion stream ends, the same for both: the finish reason and usage are the request's
/// outcome's (what the metrics and the log line record), the usage chunk (no choices) comes when the client asked,
/// then <c>data: [DONE]</c>.
/// </summary>
internal static class CompletionStreamEnd
{
    /// <summary>The finish reason of a reply that ended normally.</summary>
    public static string FinishReasonOf(RequestOutcome outcome) =>
        outcome.FinishReason ?? throw new InvalidOperationException("The reply ended without a finish reason in its outcome.");

    /// <param name="usageChunk">The stream's chunk carrying only <see cref="Usage"/>.</param>
    public static async ValueTask WriteUsageAndDoneAsync<TChunk>(
        this ServerSentEvents sse, RequestOutcome outcome, bool includeUsage, Func<Usage, TChunk> usageChunk, JsonTypeInfo<TChunk> chunkType,
        CancellationToken cancellationToken)
    {
        if (includeUsage && outcome.Usage is { } usage)
        {
            await sse.WriteAsync(usageChunk(usage.ToUsage()), chunkType, cancellationToken);
        }
        await sse.WriteDoneAsync(cancellationToken);
    }
}
