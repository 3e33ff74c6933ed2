using System.Text.Json;
using System.Text.Json.Nodes;

namespace LlmStack.Api.Backends.OpenAI;

/// <summary>
/// An upstream's <c>/v1/rerank</c> (vLLM and llama-server both serve it, in the Jina/Cohere shape): every document is
/// sent and every score asked back (no <c>top_n</c>), so ordering, <c>top_n</c> and <c>return_documents</c> are the API's
/// own whatever the server.
/// </summary>
internal sealed class UpstreamReranker(UpstreamEndpoints upstream) : IModelReranker
{
    private const string Path = "rerank";

    public async Task<RerankScores> RerankAsync(string query, IReadOnlyList<string> documents, CancellationToken cancellationToken)
    {
        var body = new JsonObject
        {
            ["model"] = upstream.Model,
            ["query"] = query,
            ["documents"] = new JsonArray([.. documents.Select(d => (JsonNode)d)]),
        };
        var answer = await upstream.PostAsync(upstream.ApiRoot, Path, body, cancellationToken);
        if (answer.ValueKind != JsonValueKind.Object || !answer.TryGetProperty("results", out var results) || results.ValueKind != JsonValueKind.Array)
        {
            throw upstream.Malformed("/rerank", "no 'results' array");
        }
        var scores = new double?[documents.Count];
        foreach (var result in results.EnumerateArray())
        {
            if (result.ValueKind != JsonValueKind.Object
                || !result.TryGetProperty("index", out var index) || !index.TryGetInt32(out var i) || (uint)i >= (uint)scores.Length
                || !result.TryGetProperty("relevance_score", out var score) || !score.TryGetDouble(out var value))
            {
                throw upstream.Malformed("/rerank", "a result without an 'index' among the documents and a numeric 'relevance_score'");
            }
            scores[i] = value;
        }
        if (Array.IndexOf(scores, null) is var missing and >= 0)
        {
            throw upstream.Malformed("/rerank", $"no score for document {missing}");
        }
        // vLLM counts total_tokens, llama-server prompt_tokens as well.
        int? tokens = answer.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object
            && (usage.TryGetProperty("prompt_tokens", out var count) || usage.TryGetProperty("total_tokens", out count)) && count.TryGetInt32(out var n)
            ? n : null;
        return new RerankScores([.. scores.Select(s => s!.Value)], tokens);
    }
}
