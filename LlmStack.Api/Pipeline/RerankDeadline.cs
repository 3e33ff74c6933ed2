using LlmStack.Api.Backends;

namespace LlmStack.Api.Pipeline;

/// <summary>
/// The rerank counterpart of <see cref="EmbeddingDeadlineGenerator"/>: a rerank has no first token, so the model's
/// <c>FirstTokenTimeout</c> bounds the whole call.
/// </summary>
internal sealed class RerankDeadline(IModelReranker inner, string model, TimeSpan timeout) : IModelReranker
{
    public Task<RerankScores> RerankAsync(string query, IReadOnlyList<string> documents, CancellationToken cancellationToken) =>
        Deadline.BoundAsync(model, timeout, cancellationToken, bounded => inner.RerankAsync(query, documents, bounded));
}
