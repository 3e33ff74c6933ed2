using System.Text.Json.Nodes;

namespace LlmStack.Benchmarks.Soak;

/// <summary>
/// Generates JSON Schemas for structured-output bodies: mostly what the embedded engine turns into a grammar (objects
/// with required and optional members, bounded strings, integer ranges, enums, const, arrays and tuples, anyOf,
/// <c>$ref</c> into <c>$defs</c>), with the edges mixed in - lengths and counts near and past llama.cpp's repetition
/// limit and the API's bounds, references that form cycles, keywords no grammar holds, wrong types for keywords,
/// unicode and punctuation names. Sizes stay small enough that a body is refused or answered quickly.
/// </summary>
public sealed class SchemaFuzzer(Random random)
{
    private static readonly string[] Names = ["a", "name", "ключ", "🔑", "a b", "\"quoted\"", "\\", "", "$ref", "x.y", "[0]", "日本語", "\u0000"];

    private static readonly int[] Lengths = [0, 1, 2, 3, 8, 1999, 2000, 2001, 10_000, 100_000, 100_001, -1, int.MaxValue];

    private static readonly string[] Unsupported = ["pattern", "multipleOf", "uniqueItems", "not", "format", "if", "patternProperties", "contains"];

    /// <summary>A schema for a reply, nested at most <paramref name="depth"/> levels below it.</summary>
    public JsonObject Next(int depth = 3)
    {
        var definitions = new List<string>();
        var schema = random.Next(5) == 0 ? WithDefinitions(depth, definitions) : Node(depth, definitions);
        if (random.Next(10) == 0)
        {
            schema[Pick(Unsupported)] = Pick<JsonNode?>(["^[a-z]+$", 0.5, true, new JsonObject(), "email"]);
        }
        return schema;
    }

    // A root that refers into its own $defs, which may refer to each other (a cycle, ended by an optional member or not).
    private JsonObject WithDefinitions(int depth, List<string> definitions)
    {
        var count = 1 + random.Next(3);
        definitions.AddRange(Enumerable.Range(0, count).Select(i => $"d{i}"));
        var defs = new JsonObject();
        foreach (var name in definitions)
        {
            defs[name] = random.Next(3) == 0
                ? new JsonObject { ["$ref"] = $"#/$defs/{Pick(definitions)}" }
                : Node(depth - 1, definitions);
        }
        return new JsonObject { ["$ref"] = random.Next(8) == 0 ? "#" : $"#/$defs/{definitions[0]}", ["$defs"] = defs };
    }

    private JsonObject Node(int depth, List<string> definitions) => (depth <= 0 ? random.Next(6) : random.Next(11)) switch
    {
        0 => String(),
        1 => new JsonObject { ["type"] = "integer", ["minimum"] = Pick(new long[] { -5, 0, 1 }), ["maximum"] = Pick(new long[] { 0, 9, 100, 1_234_567_890_123_456 }) },
        2 => new JsonObject { ["type"] = Pick(["number", "boolean", "null", "integer"]) },
        3 => new JsonObject { ["enum"] = new JsonArray([.. Enumerable.Range(0, 1 + random.Next(4)).Select(_ => Value())]) },
        4 => new JsonObject { ["const"] = Value() },
        5 => definitions.Count > 0 ? new JsonObject { ["$ref"] = $"#/$defs/{Pick(definitions)}" } : String(),
        6 or 7 => Object(depth, definitions),
        8 => Array(depth, definitions),
        9 => new JsonObject { ["anyOf"] = new JsonArray([.. Enumerable.Range(0, 1 + random.Next(3)).Select(_ => (JsonNode)Node(depth - 1, definitions))]) },
        _ => new JsonObject { ["type"] = new JsonArray(Pick(["string", "integer"]), "null"), ["maxLength"] = 4 },
    };

    private JsonObject String()
    {
        var schema = new JsonObject { ["type"] = "string" };
        // A free string with no maxLength has no end a random reply finds soon: bounded most of the time.
        if (random.Next(6) != 0)
        {
            schema["maxLength"] = random.Next(3) == 0 ? Pick(Lengths) : 1 + random.Next(8);
        }
        if (random.Next(4) == 0)
        {
            schema["minLength"] = random.Next(3) == 0 ? Pick(Lengths) : random.Next(3);
        }
        if (random.Next(12) == 0)
        {
            schema["format"] = Pick(["date", "date-time", "uuid", "time", "email"]);
        }
        return schema;
    }

    private JsonObject Object(int depth, List<string> definitions)
    {
        var properties = new JsonObject();
        var required = new JsonArray();
        foreach (var name in Enumerable.Range(0, random.Next(4)).Select(i => Pick(Names) + (random.Next(2) == 0 ? "" : i.ToString(System.Globalization.CultureInfo.InvariantCulture))).Distinct())
        {
            properties[name] = Node(depth - 1, definitions);
            if (random.Next(2) == 0)
            {
                required.Add(name);
            }
        }
        if (random.Next(10) == 0)
        {
            // A required member nobody declared.
            required.Add("undeclared");
        }
        return new JsonObject
        {
            ["type"] = "object",
            ["properties"] = properties,
            ["required"] = required,
            ["additionalProperties"] = random.Next(4) == 0 ? Pick<JsonNode?>([true, new JsonObject { ["type"] = "integer" }]) : false,
        };
    }

    private JsonObject Array(int depth, List<string> definitions)
    {
        var schema = new JsonObject { ["type"] = "array" };
        if (random.Next(3) == 0)
        {
            schema["prefixItems"] = new JsonArray([.. Enumerable.Range(0, 1 + random.Next(3)).Select(_ => (JsonNode)Node(depth - 1, definitions))]);
            schema["items"] = random.Next(2) == 0 ? false : Node(depth - 1, definitions);
        }
        else
        {
            schema["items"] = Node(depth - 1, definitions);
        }
        schema["maxItems"] = random.Next(4) == 0 ? Pick(Lengths) : random.Next(4);
        if (random.Next(3) == 0)
        {
            schema["minItems"] = random.Next(4) == 0 ? Pick(Lengths) : random.Next(2);
        }
        return schema;
    }

    private JsonNode? Value() => random.Next(6) switch
    {
        0 => null,
        1 => JsonValue.Create(random.Next(-3, 100)),
        2 => JsonValue.Create(random.Next(2) == 0),
        3 => JsonValue.Create(0.25),
        _ => JsonValue.Create(Pick(Names) + Pick(["", "-1", "ä", "🙂"])),
    };

    private T Pick<T>(IReadOnlyList<T> items) => items[random.Next(items.Count)];
}
