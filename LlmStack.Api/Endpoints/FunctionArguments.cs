using System.Text.Json;
using LlmStack.Api.Errors;
using Microsoft.Extensions.AI;

namespace LlmStack.Api.Endpoints;

/// <summary>A function call's arguments on the wire: a JSON object encoded as a string, in requests and in replies.</summary>
internal static class FunctionArguments
{
    // Arguments are whatever objects the backend parsed them into; the AI library's resolver serializes any of
    // them (its defaults indent, which OpenAI's compact argument strings do not).
    private static readonly JsonSerializerOptions SerializerOptions = new(AIJsonUtilities.DefaultOptions) { WriteIndented = false };

    /// <summary>The arguments a client sent (null when there are none); 400 naming <paramref name="param"/> when they are not a JSON object.</summary>
    public static Dictionary<string, object?>? Parse(string? arguments, string param)
    {
        if (string.IsNullOrWhiteSpace(arguments))
        {
            return null;
        }
        try
        {
            using var document = JsonDocument.Parse(arguments);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw ApiErrorException.InvalidRequest($"'{param}' must be a JSON object encoded as a string.", param);
            }
            return document.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => (object?)p.Value.Clone());
        }
        catch (JsonException)
        {
            throw ApiErrorException.InvalidRequest($"'{param}' is not valid JSON.", param);
        }
    }

    /// <summary>Whether arguments that streamed in pieces add up to JSON (not cut off part way).</summary>
    public static bool IsWhole(string arguments)
    {
        try
        {
            using var document = JsonDocument.Parse(arguments);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>The arguments of a call the model made, as the compact JSON string clients parse.</summary>
    public static string Serialize(IDictionary<string, object?>? arguments) =>
        JsonSerializer.Serialize(arguments ?? new Dictionary<string, object?>(), SerializerOptions.GetTypeInfo(typeof(IDictionary<string, object?>)));
}
