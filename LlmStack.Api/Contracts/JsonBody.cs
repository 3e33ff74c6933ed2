using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using LlmStack.Api.Errors;
using LlmStack.Api.Models;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace LlmStack.Api.Contracts;

/// <summary>
/// Reads a request body into a wire record. Malformed JSON and values of the wrong type become a 400 that
/// names the field (<c>temperature</c>, <c>messages[1].role</c>), never a 500 or a serializer message with
/// .NET type names in it.
/// </summary>
internal static class JsonBody
{
    public static async Task<T> ReadAsync<T>(HttpRequest request, JsonTypeInfo<T> typeInfo) where T : class
    {
        var limit = request.HttpContext.RequestServices.GetRequiredService<IOptions<LlmStackOptions>>().Value.MaxRequestBodySize;
        if (request.ContentLength > limit)
        {
            throw TooLarge(limit);
        }
        // Enforced by the server while reading too, for bodies sent without a length (chunked).
        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } sizeLimit)
        {
            sizeLimit.MaxRequestBodySize = limit;
        }

        T? body;
        try
        {
            body = await JsonSerializer.DeserializeAsync(request.Body, typeInfo, request.HttpContext.RequestAborted);
        }
        catch (JsonException ex)
        {
            throw ToInvalidRequest(ex);
        }
        return body ?? throw ApiErrorException.InvalidRequest("The request body must be a JSON object.");
    }

    private static ApiErrorException TooLarge(long limit) => new(
        StatusCodes.Status413PayloadTooLarge, "invalid_request_error",
        $"The request body is larger than the {limit} bytes this server accepts (LlmStack:MaxRequestBodySize).", "request_too_large");

    private const string ConversionError = "The JSON value could not be converted to ";

    private static ApiErrorException ToInvalidRequest(JsonException ex)
    {
        var param = ex.Path is null or "$" ? null : ex.Path.StartsWith("$.", StringComparison.Ordinal) ? ex.Path[2..] : ex.Path[1..];
        if (!ex.Message.StartsWith(ConversionError, StringComparison.Ordinal))
        {
            // The reader's own messages say what is malformed and where, without type names; no field is at fault.
            return ApiErrorException.InvalidRequest($"The request body is not valid JSON: {ex.Message}", null, "invalid_json");
        }
        if (param is null)
        {
            return ApiErrorException.InvalidRequest("The request body must be a JSON object.", null, "invalid_type");
        }
        var target = ex.Message[ConversionError.Length..];
        var expected = target switch
        {
            _ when target.StartsWith("System.Nullable`1[System.Double]", StringComparison.Ordinal) => "a number",
            _ when target.StartsWith("System.Nullable`1[System.Int", StringComparison.Ordinal) => "an integer",
            _ when target.StartsWith("System.Nullable`1[System.Boolean]", StringComparison.Ordinal) => "a boolean",
            _ when target.StartsWith("System.String", StringComparison.Ordinal) => "a string",
            _ when target.StartsWith("System.Collections.Generic.List", StringComparison.Ordinal) => "an array",
            _ => "an object",
        };
        return ApiErrorException.InvalidRequest($"Invalid type for '{param}': expected {expected}.", param, "invalid_type");
    }
}
