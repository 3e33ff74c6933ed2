using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;

namespace LlmStack.Tests.Fixtures;

/// <summary>
/// Whether a structured reply holds its schema as a client decodes it: well-formed text (no U+FFFD from bytes that were
/// not UTF-8), parsed by System.Text.Json, evaluated by JsonSchema.Net (formats included). One difference is bridged:
/// JSON Schema counts a string's length in code points, JsonSchema.Net in grapheme clusters (a letter and its combining
/// mark count once), so <c>minLength</c> is checked here by code points - which a model writing random bytes needs -
/// and every other keyword, <c>maxLength</c> included, by JsonSchema.Net.
/// </summary>
internal static class ReplyValidation
{
    // JsonSchema.Net refuses keywords it does not know; the minimum rides in a comment, which every dialect takes.
    private const string MinLengthByCodePoints = "$comment";

    private const string MinLengthNote = "minLength in code points: ";

    private static readonly Dictionary<string, (JsonSchema Validator, JsonElement Schema)> Validators = new(StringComparer.Ordinal);

    /// <summary>Why <paramref name="reply"/> does not hold <paramref name="schema"/>; null when it does.</summary>
    public static string? Problem(string schema, string reply)
    {
        if (reply.Contains('\uFFFD', StringComparison.Ordinal))
        {
            return "the reply holds U+FFFD: its bytes were not UTF-8";
        }
        string? problem = null;
        // Long reference chains and deep nesting recurse in the validator (and below): give it a stack to match.
        var thread = new Thread(() =>
        {
            try
            {
                problem = Evaluate(schema, reply);
            }
            catch (Exception ex)
            {
                problem = $"the validator failed: {ex.GetType().Name}: {ex.Message}";
            }
        }, 256 * 1024 * 1024);
        thread.Start();
        thread.Join();
        return problem;
    }

    private static string? Evaluate(string schemaText, string reply)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(reply);
        }
        catch (JsonException ex)
        {
            return $"the reply is not JSON: {ex.Message}";
        }
        using var _ = document;
        (JsonSchema Validator, JsonElement Schema) built;
        lock (Validators)
        {
            // Built once per schema: JsonSchema.Net registers every schema it builds under its base URI.
            if (!Validators.TryGetValue(schemaText, out built))
            {
                var schema = JsonNode.Parse(schemaText)!;
                RenameMinLength(schema);
                Validators[schemaText] = built = (JsonSchema.FromText(schema.ToJsonString()), JsonDocument.Parse(schema.ToJsonString()).RootElement);
            }
        }
        var (validator, codePointSchema) = built;
        var evaluation = validator.Evaluate(document.RootElement,
            new EvaluationOptions { OutputFormat = OutputFormat.List, RequireFormatValidation = true });
        if (!evaluation.IsValid)
        {
            return "the reply does not validate: " + string.Join("; ", (evaluation.Details ?? [])
                .Where(d => d.Errors is not null).SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Value}")).Take(5));
        }
        return ShortString(codePointSchema, codePointSchema, document.RootElement, "");
    }

    // Every minLength of a schema (not a property of that name) becomes a note JsonSchema.Net passes over.
    private static void RenameMinLength(JsonNode? schema)
    {
        if (schema is JsonArray list)
        {
            foreach (var item in list)
            {
                RenameMinLength(item);
            }
            return;
        }
        if (schema is not JsonObject obj)
        {
            return;
        }
        if (obj["minLength"] is { } minimum)
        {
            obj.Remove("minLength");
            obj[MinLengthByCodePoints] = MinLengthNote + minimum.ToJsonString();
        }
        foreach (var (keyword, value) in obj.ToList())
        {
            if (keyword is "properties" or "$defs" or "definitions" && value is JsonObject map)
            {
                foreach (var (_, member) in map)
                {
                    RenameMinLength(member);
                }
            }
            else if (keyword is "items" or "additionalProperties" or "anyOf" or "oneOf" or "allOf" or "prefixItems")
            {
                RenameMinLength(value);
            }
        }
    }

    // The instance has already validated against everything else, so it follows the schema's shape: walk both.
    private static string? ShortString(JsonElement root, JsonElement schema, JsonElement instance, string at)
    {
        if (schema.ValueKind != JsonValueKind.Object)
        {
            return null;
        }
        if (schema.TryGetProperty("$ref", out var reference) && reference.GetString() is { } pointer && pointer.StartsWith("#", StringComparison.Ordinal))
        {
            var target = root;
            foreach (var segment in pointer[1..].Split('/', StringSplitOptions.RemoveEmptyEntries))
            {
                target = target.GetProperty(segment.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal));
            }
            return ShortString(root, target, instance, at);
        }
        if (instance.ValueKind == JsonValueKind.String && schema.TryGetProperty(MinLengthByCodePoints, out var note)
            && note.GetString() is { } text && text.StartsWith(MinLengthNote, StringComparison.Ordinal))
        {
            var minimum = int.Parse(text.AsSpan(MinLengthNote.Length), System.Globalization.CultureInfo.InvariantCulture);
            var length = instance.GetString()!.EnumerateRunes().Count();
            if (length < minimum)
            {
                return $"{at}: {length} code points, fewer than minLength {minimum}";
            }
        }
        if (instance.ValueKind == JsonValueKind.Object && schema.TryGetProperty("properties", out var properties))
        {
            foreach (var member in instance.EnumerateObject())
            {
                if (properties.TryGetProperty(member.Name, out var memberSchema) && ShortString(root, memberSchema, member.Value, $"{at}/{member.Name}") is { } problem)
                {
                    return problem;
                }
            }
        }
        if (instance.ValueKind == JsonValueKind.Array)
        {
            var prefix = schema.TryGetProperty("prefixItems", out var p) ? p.EnumerateArray().ToList() : [];
            var i = 0;
            foreach (var item in instance.EnumerateArray())
            {
                var itemSchema = i < prefix.Count ? prefix[i] : schema.TryGetProperty("items", out var items) ? items : default;
                if (ShortString(root, itemSchema, item, $"{at}/{i}") is { } problem)
                {
                    return problem;
                }
                i++;
            }
        }
        foreach (var combinator in new[] { "anyOf", "oneOf" })
        {
            // One alternative must take the instance with its strings long enough.
            if (schema.TryGetProperty(combinator, out var alternatives) && alternatives.EnumerateArray().All(a => ShortString(root, a, instance, at) is not null))
            {
                return $"{at}: no alternative of {combinator} has its minLength met";
            }
        }
        return null;
    }
}
