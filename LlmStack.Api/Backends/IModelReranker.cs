using LlmStack.Api.Errors;

namespace LlmStack.Api.Backends;

/// <summary>
/// A model that scores documents by their relevance to a query (<c>/v1/rerank</c>): an embedded reranker GGUF run with
/// llama.cpp's rank pooling, or an upstream's rerank endpoint.
/// </summary>
internal interface IModelReranker
{
    /// <summary>One score per document, in the documents' order (higher is more relevant).</summary>
    Task<RerankScores> RerankAsync(string query, IReadOnlyList<string> documents, CancellationToken cancellationToken);
}

/// <param name="Scores">The relevance of each document, in the order they were given.</param>
/// <param name="PromptTokens">The tokens the model read (query and documents), when the backend says.</param>
internal sealed record RerankScores(IReadOnlyList<double> Scores, int? PromptTokens);

/// <summary>A model's reranker, or why it has none (a chat model without a rerank head, a backend without the endpoint).</summary>
internal sealed record RerankSupport(IModelReranker? Reranker, string? Reason)
{
    public static RerankSupport By(IModelReranker reranker) => new(reranker, null);

    public static RerankSupport None(string reason) => new(null, reason);

    /// <summary>The 400 of a rerank request to a model that cannot rerank.</summary>
    public ApiErrorException Refuse(string model) =>
        ApiErrorException.InvalidRequest($"The model '{model}' cannot rerank: {Reason}.", "model", "unsupported_model");
}
