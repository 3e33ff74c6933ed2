using System.Text.Json;
using LlmStack.Api.Contracts;
using LlmStack.Api.Endpoints;
using LlmStack.Api.Errors;
using Microsoft.AspNetCore.Http.HttpResults;

namespace LlmStack.Api.Reranking;

/// <summary>
/// <c>POST /v1/rerank</c>: documents scored by their relevance to a query, most relevant first - the step of a
/// retrieval pipeline that decides which passages reach the prompt. Served by reranker models (an embedded reranker
/// GGUF, an upstream's rerank endpoint); any other model is a 400 that says why.
/// </summary>
internal static class RerankApi
{
    /// <summary>Cohere's bound on documents per request.</summary>
    public const int MaxDocuments = 1000;

    public static RouteGroupBuilder MapRerankApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/v1").WithTags("Rerank");
        api.MapPost("/rerank", Rerank)
            .WithName(nameof(Rerank))
            .CallsModel("rerank")
            .WithSummary("Scores documents by their relevance to a query and returns them most relevant first.")
            .Accepts<RerankRequest>("application/json")
            .Produces<RerankResponse>(StatusCodes.Status200OK, "application/json")
            .ProducesOpenAIErrors(ModelCallMetadata.ModelCallErrors);
        return api;
    }

    public static async Task<JsonHttpResult<RerankResponse>> Rerank(HttpContext context, ModelCalls calls)
    {
        var (call, body) = await calls.StartAsync(context, ApiJsonContext.Default.RerankRequest, b => b.Model);
        if (string.IsNullOrEmpty(body.Query))
        {
            throw body.Query is null
                ? ApiErrorException.InvalidRequest("Missing required parameter: 'query'.", "query", "missing_required_parameter")
                : ApiErrorException.InvalidRequest("'query' must not be empty.", "query");
        }
        var documents = ToDocuments(body.Documents);
        if (body.TopN is < 1)
        {
            throw ApiErrorException.InvalidRequest($"{body.TopN} is less than the minimum of 1 - 'top_n'.", "top_n");
        }

        var scores = await call.RerankAsync(body.Query, documents);
        var returnDocuments = body.ReturnDocuments ?? true;
        var results = scores.Scores
            .Select((score, index) => new RerankResult
            {
                Index = index,
                RelevanceScore = score,
                Document = returnDocuments ? new RerankDocument(documents[index]) : null,
            })
            // Stable: equal scores keep the documents' order.
            .OrderByDescending(result => result.RelevanceScore)
            .Take(body.TopN ?? documents.Count)
            .ToList();
        var tokens = scores.PromptTokens ?? 0;
        return TypedResults.Json(new RerankResponse
        {
            Id = "rerank-" + Guid.NewGuid().ToString("N"),
            Model = call.Model.Id,
            Results = results,
            Usage = new RerankUsage(tokens, tokens),
        }, ApiJsonContext.Default.RerankResponse);
    }

    private static List<string> ToDocuments(JsonElement? documents)
    {
        if (documents is not { ValueKind: not (JsonValueKind.Null or JsonValueKind.Undefined) } value)
        {
            throw ApiErrorException.InvalidRequest("Missing required parameter: 'documents'.", "documents", "missing_required_parameter");
        }
        if (value.ValueKind != JsonValueKind.Array)
        {
            throw ApiErrorException.InvalidType("documents", "an array of strings", JsonKinds.Describe(value));
        }
        var texts = new List<string>();
        foreach (var document in value.EnumerateArray())
        {
            var param = $"documents[{texts.Count}]";
            texts.Add(document.ValueKind switch
            {
                JsonValueKind.String => document.GetString()!,
                JsonValueKind.Object when document.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String => text.GetString()!,
                JsonValueKind.Object => throw ApiErrorException.InvalidRequest($"'{param}' must have a 'text' string.", $"{param}.text", "missing_required_parameter"),
                _ => throw ApiErrorException.InvalidType(param, "a string or an object with a 'text'", JsonKinds.Describe(document)),
            });
        }
        return texts.Count switch
        {
            0 => throw ApiErrorException.InvalidRequest("'documents' must contain at least one document.", "documents"),
            > MaxDocuments => throw ApiErrorException.InvalidRequest($"'documents' takes at most {MaxDocuments} documents; got {texts.Count}.", "documents"),
            _ => texts,
        };
    }
}
