namespace LlmStack.Gguf;

/// <summary>What <see cref="RerankerModel"/> writes.</summary>
/// <param name="Relevance">
/// Words (plain text, no spaces) and how relevant each is, from 0 to 1; every other token is irrelevant (0). A document
/// scores higher the more of its tokens are relevant words, and the more relevant they are.
/// </param>
public sealed record RerankerModelSpec(IReadOnlyDictionary<string, float> Relevance)
{
    public GgmlType MatrixType { get; init; } = GgmlType.F32;

    /// <summary><c>general.name</c>.</summary>
    public string Name { get; init; } = "llmstack-reranker";
}
