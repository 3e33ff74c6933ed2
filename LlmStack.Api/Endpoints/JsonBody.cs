using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using LlmStack.Api.Configuration;
using LlmStack.Api.Errors;
using LlmStack.Api.Pipeline;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace LlmStack.Api.Endpoints;

/// <summary>
/// Reads a request body into a wire record. Malformed JSON and values of the wrong type become a 400 that
/// names the field and says what the contract expects there and what was sent
/// (<c>Invalid type for 'temperature': expected a number, but got a string.</c>), never a 500 or a serializer
/// message with .NET type names in it.
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

        // Buffered (it is bounded above): a rejected body is read a second time to say what it holds.
        using var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer, request.HttpContext.RequestAborted);
        var json = new ReadOnlyMemory<byte>(buffer.GetBuffer(), 0, (int)buffer.Length);
        // JSON text is UTF-8. The reader checks a string's bytes only when the string is read, which for the message
        // contents kept as raw elements happens long after this point: check the whole body once, here.
        if (!System.Text.Unicode.Utf8.IsValid(json.Span))
        {
            throw ApiErrorException.InvalidRequest("The request body is not valid JSON: it is not valid UTF-8.", null, "invalid_json");
        }
        T? body;
        try
        {
            body = JsonSerializer.Deserialize(json.Span, typeInfo);
        }
        catch (JsonException ex)
        {
            throw ToInvalidRequest(ex, json, typeInfo);
        }

        EnsureEscapesDecode(json.Span);
        return body ?? throw ApiErrorException.InvalidRequest("The request body must be a JSON object.", null, "invalid_type");
    }

    /// <summary>
    /// An escape such as <c>\ud800</c> (half a surrogate pair) is well-formed JSON but no string: the reader
    /// throws only when such a string is read, which for fields kept as raw elements (message contents, inputs)
    /// happens later. Every escaped string is decoded once here instead.
    /// </summary>
    private static void EnsureEscapesDecode(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json);
        while (reader.Read())
        {
            if (reader.TokenType is JsonTokenType.String or JsonTokenType.PropertyName && reader.ValueIsEscaped)
            {
                try
                {
                    reader.GetString();
                }
                catch (InvalidOperationException)
                {
                    throw ApiErrorException.InvalidRequest(
                        "The request body is not valid JSON: a string holds an unpaired UTF-16 surrogate escape (e.g. \\ud800).", null, "invalid_json");
                }
            }
        }
    }

    private static ApiErrorException TooLarge(long limit) => new(
        StatusCodes.Status413PayloadTooLarge, "invalid_request_error",
        $"The request body is larger than the {limit} bytes this server accepts (LlmStack:MaxRequestBodySize).", "request_too_large");

    /// <summary>
    /// The serializer stopped at <see cref="JsonException.Path"/>. When the body is not valid JSON, the reader's
    /// message says why and where; otherwise the value there does not fit the contract, and the contract says
    /// what it expects at that path.
    /// </summary>
    private static ApiErrorException ToInvalidRequest(JsonException ex, ReadOnlyMemory<byte> json, JsonTypeInfo contract)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException syntax)
        {
            return ApiErrorException.InvalidRequest($"The request body is not valid JSON: {syntax.Message}", null, "invalid_json");
        }

        using (document)
        {
            var path = JsonPath.Parse(ex.Path);
            var expected = ExpectedAt(contract, path);
            var sent = ValueAt(document.RootElement, path);
            if (path.Count == 0)
            {
                return ApiErrorException.InvalidRequest(
                    $"The request body must be a JSON object{(sent is { } root ? $", but got {JsonKinds.Describe(root)}" : "")}.", null, "invalid_type");
            }
            var param = JsonPath.Format(path);
            return sent is { } value
                ? ApiErrorException.InvalidType(param, expected, JsonKinds.Describe(value))
                : ApiErrorException.InvalidRequest($"Invalid type for '{param}': expected {expected}.", param, "invalid_type");
        }
    }

    /// <summary>What the contract takes at <paramref name="path"/>, in the words of the API's messages.</summary>
    private static string ExpectedAt(JsonTypeInfo contract, IReadOnlyList<JsonPath.Segment> path)
    {
        var type = contract;
        foreach (var segment in path)
        {
            Type? next = segment.Name is { } name
                ? type.Properties.FirstOrDefault(p => p.Name == name)?.PropertyType
                : type.ElementType;
            if (next is null)
            {
                break;
            }
            type = contract.Options.GetTypeInfo(Nullable.GetUnderlyingType(next) ?? next);
        }
        return JsonKinds.Expected(type);
    }

    private static JsonElement? ValueAt(JsonElement root, IReadOnlyList<JsonPath.Segment> path)
    {
        var current = root;
        foreach (var segment in path)
        {
            if (segment.Name is { } name)
            {
                if (current.ValueKind != JsonValueKind.Object || !current.TryGetProperty(name, out current))
                {
                    return null;
                }
            }
            else if (current.ValueKind != JsonValueKind.Array || segment.Index >= current.GetArrayLength())
            {
                return null;
            }
            else
            {
                current = current[segment.Index];
            }
        }
        return current;
    }
}
