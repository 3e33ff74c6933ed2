using LlmStack.Api.Backends;
using LlmStack.Api.Limits;

namespace LlmStack.Api.Pipeline;

/// <summary>
/// A model's reranker in its pipeline: reranking takes the model's compute as chats and embeddings do, so the same
/// admission gate bounds it, and like an embedding it has no first token: <c>FirstTokenTimeout</c> bounds the whole call.
/// </summary>
internal sealed class AdmittedReranker(IModelReranker inner, AdmissionGate gate, string model, TimeSpan timeout) : IModelReranker
{
    public async Task<RerankScores> RerankAsync(string query, IReadOnlyList<string> documents, CancellationToken cancellationToken)
    {
        using var admission = await gate.EnterAsync(cancellationToken);
        return await Deadline.BoundAsync(model, timeout, cancellationToken, bounded => inner.RerankAsync(query, documents, bounded));
    }
}
