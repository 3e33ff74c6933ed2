using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using LlmStack.Api.Errors;

namespace LlmStack.Api.Endpoints;

/// <summary>
/// Bounds on every JSON Schema a request carries (<c>response_format</c>, <c>text.format</c>, a function's
/// <c>parameters</c>), checked on the request thread before any backend sees the schema: its size, how deep its
/// schemas nest, and how many definitions, properties, enum values, alternatives and tuple items it has. Within them
/// the embedded engine converts any schema to a grammar quickly; past them the request is a 400
/// (<c>schema_too_complex</c>) whose <c>param</c> is the place in the schema where the bound was passed. The limits
/// follow OpenAI's own for structured output (5,000 properties, 120,000 characters of names and values, 1,000 enum
/// values) where it has them.
/// </summary>
internal static class JsonSchemaBounds
{
    /// <summary>The code of every refusal here.</summary>
    public const string TooComplexCode = "schema_too_complex";

    /// <summary>The largest schema, in bytes of its JSON.</summary>
    public const int MaxBytes = 1024 * 1024;

    /// <summary>How deep schemas may nest in one another (the schema itself is depth 1).</summary>
    public const int MaxDepth = 32;

    /// <summary>Entries of <c>$defs</c> and <c>definitions</c>, in all.</summary>
    public const int MaxDefinitions = 1000;

    /// <summary>Declared properties, in all.</summary>
    public const int MaxProperties = 5000;

    /// <summary>Values of every <c>enum</c>, in all.</summary>
    public const int MaxEnumValues = 1000;

    /// <summary>Schemas in one <c>anyOf</c>, <c>oneOf</c>, <c>allOf</c> or <c>prefixItems</c>.</summary>
    public const int MaxListItems = 1000;

    /// <summary>Schemas in all (each property's, each item's, each alternative's...).</summary>
    public const int MaxSchemas = 10_000;

    /// <summary>Characters of property names, definition names, enum values and const values, in all.</summary>
    public const int MaxTextChars = 120_000;

    // Keywords whose value is one schema, a map of names to schemas, or a list of schemas.
    private static readonly string[] SchemaKeywords =
        ["items", "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames", "unevaluatedProperties", "unevaluatedItems", "additionalItems"];

    private static readonly string[] SchemaMaps = ["properties", "$defs", "definitions", "patternProperties", "dependentSchemas"];

    private static readonly string[] SchemaLists = ["anyOf", "oneOf", "allOf", "prefixItems", "items"];

    /// <summary>Refuses <paramref name="schema"/> (found at <paramref name="param"/>) when it passes a bound.</summary>
    /// <exception cref="ApiErrorException">400 <c>schema_too_complex</c>, naming where and which bound.</exception>
    public static void Check(JsonElement schema, string param)
    {
        var bytes = JsonMarshal.GetRawUtf8Value(schema).Length;
        if (bytes > MaxBytes)
        {
            throw Refusal(param, $"it is {bytes:N0} bytes of JSON; a schema may have at most {MaxBytes:N0}");
        }
        var counts = new Counts();
        var pending = new Stack<(JsonElement Schema, string Path, int Depth)>();
        pending.Push((schema, param, 1));
        while (pending.TryPop(out var item))
        {
            var (node, path, depth) = item;
            if (node.ValueKind != JsonValueKind.Object)
            {
                continue;
            }
            if (depth > MaxDepth)
            {
                throw Refusal(path, $"schemas are nested more than {MaxDepth} deep");
            }
            if (++counts.Schemas > MaxSchemas)
            {
                throw Refusal(path, $"it has more than {MaxSchemas:N0} schemas in all");
            }
            foreach (var keyword in node.EnumerateObject())
            {
                var at = $"{path}.{keyword.Name}";
                var value = keyword.Value;
                switch (keyword.Name)
                {
                    case "enum" when value.ValueKind == JsonValueKind.Array:
                        counts.EnumValues += value.GetArrayLength();
                        if (counts.EnumValues > MaxEnumValues)
                        {
                            throw Refusal(at, $"it has more than {MaxEnumValues:N0} enum values in all");
                        }
                        foreach (var option in value.EnumerateArray())
                        {
                            counts.AddText(ValueLength(option), at);
                        }
                        continue;
                    case "const":
                        counts.AddText(ValueLength(value), at);
                        continue;
                }
                if (value.ValueKind == JsonValueKind.Object && Array.IndexOf(SchemaMaps, keyword.Name) >= 0)
                {
                    var entries = 0;
                    foreach (var entry in value.EnumerateObject())
                    {
                        entries++;
                        counts.AddText(entry.Name.Length, at);
                        pending.Push((entry.Value, RequestParam.Member(at, entry.Name), depth + 1));
                    }
                    if (keyword.Name is "properties" && (counts.Properties += entries) > MaxProperties)
                    {
                        throw Refusal(at, $"it declares more than {MaxProperties:N0} properties in all");
                    }
                    if (keyword.Name is "$defs" or "definitions" && (counts.Definitions += entries) > MaxDefinitions)
                    {
                        throw Refusal(at, $"it has more than {MaxDefinitions:N0} definitions in all");
                    }
                }
                else if (value.ValueKind == JsonValueKind.Array && Array.IndexOf(SchemaLists, keyword.Name) >= 0)
                {
                    if (value.GetArrayLength() > MaxListItems)
                    {
                        throw Refusal(at, $"it lists {value.GetArrayLength():N0} schemas; a list may have at most {MaxListItems:N0}");
                    }
                    var i = 0;
                    foreach (var entry in value.EnumerateArray())
                    {
                        pending.Push((entry, $"{at}[{i++}]", depth + 1));
                    }
                }
                else if (value.ValueKind == JsonValueKind.Object && Array.IndexOf(SchemaKeywords, keyword.Name) >= 0)
                {
                    pending.Push((value, at, depth + 1));
                }
            }
        }
    }

    // A string's characters; any other value's JSON text.
    private static int ValueLength(JsonElement value) =>
        value.ValueKind == JsonValueKind.String ? value.GetString()!.Length : Encoding.UTF8.GetCharCount(JsonMarshal.GetRawUtf8Value(value));

    private static ApiErrorException Refusal(string param, string reason) =>
        ApiErrorException.InvalidRequest($"The JSON Schema at '{param}' is too complex: {reason}.", param, TooComplexCode);

    private sealed class Counts
    {
        private int _text;

        public int Schemas;
        public int Properties;
        public int Definitions;
        public int EnumValues;

        public void AddText(int chars, string at)
        {
            _text += chars;
            if (_text > MaxTextChars)
            {
                throw Refusal(at, $"its property names, definition names, enum and const values have more than {MaxTextChars:N0} characters in all");
            }
        }
    }
}
