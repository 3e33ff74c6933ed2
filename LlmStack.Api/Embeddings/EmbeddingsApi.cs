using System.Text.Json;
using LlmStack.Api.Configuration;
using LlmStack.Api.Contracts;
using LlmStack.Api.Endpoints;
using LlmStack.Api.Errors;
using LlmStack.Api.Pipeline;
using LlmStack.Api.Telemetry;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.AI;

namespace LlmStack.Api.Embeddings;

/// <summary><c>POST /v1/embeddings</c> for the models whose backend can embed.</summary>
internal static class EmbeddingsApi
{
    private const int MaxInputs = 2048;

    public static RouteGroupBuilder MapEmbeddingsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/v1").WithTags("Embeddings");
        api.MapPost("/embeddings", CreateEmbeddings)
            .WithName(nameof(CreateEmbeddings))
            .CallsModel("embeddings")
            .WithSummary("Creates an embedding vector for each input string.")
            .Accepts<EmbeddingRequest>("application/json")
            .Produces<EmbeddingList>(StatusCodes.Status200OK, "application/json")
            .ProducesOpenAIErrors(ModelCallMetadata.ModelCallErrors);
        return api;
    }

    public static async Task<JsonHttpResult<EmbeddingList>> CreateEmbeddings(HttpContext context, ModelCalls calls)
    {
        var (call, body) = await calls.StartAsync(context, ApiJsonContext.Default.EmbeddingRequest, b => b.Model);
        var generator = call.Embeddings();
        var asBase64 = body.EncodingFormat switch
        {
            null or "float" => false,
            "base64" => true,
            var format => throw ApiErrorException.InvalidRequest(
                $"Invalid value for 'encoding_format': '{format}'. Supported values are: 'float' and 'base64'.", "encoding_format"),
        };
        if (body.Dimensions is < 1)
        {
            throw ApiErrorException.InvalidRequest($"{body.Dimensions} is less than the minimum of 1 - 'dimensions'.", "dimensions");
        }
        var inputs = ToInputs(body.Input);

        var embeddings = await call.EmbedAsync(generator, inputs, new EmbeddingGenerationOptions { Dimensions = body.Dimensions });
        var promptTokens = (int)(embeddings.Usage?.InputTokenCount ?? 0);
        return TypedResults.Json(new EmbeddingList
        {
            Data = [.. embeddings.Select((e, i) => new EmbeddingData { Index = i, Embedding = new EmbeddingVector(e.Vector, asBase64) })],
            Model = call.Model.Id,
            Usage = new EmbeddingUsage { PromptTokens = promptTokens, TotalTokens = promptTokens },
        }, ApiJsonContext.Default.EmbeddingList);
    }

    private static List<string> ToInputs(JsonElement? input)
    {
        switch (input?.ValueKind)
        {
            case null or JsonValueKind.Null or JsonValueKind.Undefined:
                throw ApiErrorException.InvalidRequest("Missing required parameter: 'input'.", "input", "missing_required_parameter");
            case JsonValueKind.String:
                return [NonEmpty(input.Value.GetString()!, "input")];
            case JsonValueKind.Array:
                var inputs = new List<string>();
                var i = 0;
                foreach (var item in input.Value.EnumerateArray())
                {
                    var param = $"input[{i++}]";
                    inputs.Add(item.ValueKind switch
                    {
                        JsonValueKind.String => NonEmpty(item.GetString()!, param),
                        JsonValueKind.Number or JsonValueKind.Array => throw ApiErrorException.InvalidRequest(
                            "Token arrays are not supported as 'input': send text.", param, "unsupported_value"),
                        _ => throw ApiErrorException.InvalidType(param, "a string", JsonKinds.Describe(item)),
                    });
                }
                return inputs.Count switch
                {
                    0 => throw ApiErrorException.InvalidRequest("'input' must contain at least one string.", "input"),
                    > MaxInputs => throw ApiErrorException.InvalidRequest($"'input' takes at most {MaxInputs} strings; got {inputs.Count}.", "input"),
                    _ => inputs,
                };
            default:
                throw ApiErrorException.InvalidType("input", "a string or an array of strings", JsonKinds.Describe(input.Value));
        }

        static string NonEmpty(string text, string param) =>
            text.Length > 0 ? text : throw ApiErrorException.InvalidRequest($"'{param}' must not be empty.", param);
    }
}
