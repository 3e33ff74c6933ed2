using System.Text.Json;

namespace LlmStack.Api.Contracts;

// POST /v1/rerank in the Jina/Cohere shape that vLLM and llama-server serve.

internal sealed record RerankRequest
{
    public string? Model { get; init; }

    public string? Query { get; init; }

    /// <summary>Strings, or objects with a <c>text</c> (Cohere's form).</summary>
    public JsonElement? Documents { get; init; }

    /// <summary>How many of the best results to return (default: all).</summary>
    public int? TopN { get; init; }

    /// <summary>Each result carries its document's text (default true, as Jina, vLLM and llama-server do).</summary>
    public bool? ReturnDocuments { get; init; }
}

internal sealed record RerankResponse
{
    public required string Id { get; init; }

    public string Object => "list";

    public required string Model { get; init; }

    /// <summary>The results, most relevant first.</summary>
    public required List<RerankResult> Results { get; init; }

    public required RerankUsage Usage { get; init; }
}

internal sealed record RerankResult
{
    /// <summary>The document's position in the request.</summary>
    public required int Index { get; init; }

    public required double RelevanceScore { get; init; }

    public RerankDocument? Document { get; init; }
}

internal sealed record RerankDocument(string Text);

internal sealed record RerankUsage(int PromptTokens, int TotalTokens);
