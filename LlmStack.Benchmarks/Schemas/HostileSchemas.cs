using System.Text;
using System.Text.Json;

namespace LlmStack.Benchmarks.Schemas;

/// <summary>
/// One schema of the hostile corpus, and what the API answers when a request asks the embedded engine for it: a reply
/// that validates (<see cref="RefusalCode"/> null) or a 400 with that code, whose <c>param</c> ends with
/// <see cref="RefusedAt"/> (the JSON path inside the schema; "" for the schema itself).
/// </summary>
/// <param name="MaxTokens">Enough output tokens for the shortest valid reply (a long minimum length needs thousands).</param>
public sealed record HostileSchema(string Name, string Json, string? RefusalCode = null, string? RefusedAt = null, int MaxTokens = 3000)
{
    public bool IsRefused => RefusalCode is not null;

    public override string ToString() => Name;
}

/// <summary>
/// Schemas an attacker would send: reference cycles (that end and that cannot), long reference chains, thousands of
/// properties with punctuation and unicode names, long tuples, deep nesting, huge enums, long strings and lengths
/// near and past llama.cpp's repetition limit of 2000, each next to the bound it tests. Shared by the tests (each one
/// sent while other streams generate) and the <c>schemas</c> benchmark (conversion times).
/// </summary>
public static class HostileSchemas
{
    public const string TooComplex = "schema_too_complex";
    public const string NeverEnds = "invalid_schema";

    public static IReadOnlyList<HostileSchema> All { get; } =
    [
        new("two definitions referring to each other",
            """{"$ref":"#/$defs/a","$defs":{"a":{"$ref":"#/$defs/b"},"b":{"$ref":"#/$defs/a"}}}""", NeverEnds),
        new("the root referring to itself", """{"$ref":"#"}""", NeverEnds),
        new("anyOf that refers to itself first (left recursion)",
            """{"$ref":"#/$defs/a","$defs":{"a":{"anyOf":[{"$ref":"#/$defs/a"},{"type":"null"}]}}}""", NeverEnds, ".$defs.a"),
        new("a required property of its own type",
            """{"$ref":"#/$defs/node","$defs":{"node":{"type":"object","properties":{"child":{"$ref":"#/$defs/node"}},"required":["child"]}}}""", NeverEnds),
        new("a tree whose children are optional",
            """
            {"$ref":"#/$defs/node","$defs":{"node":{"type":"object","properties":{
              "name":{"type":"string","maxLength":6},
              "children":{"type":"array","items":{"$ref":"#/$defs/node"},"maxItems":2}},
             "required":["name"],"additionalProperties":false}}}
            """),
        new("a linked list ended by null",
            """
            {"$ref":"#/$defs/item","$defs":{"item":{"type":"object","properties":{
              "value":{"type":"integer","minimum":0,"maximum":9},
              "next":{"anyOf":[{"$ref":"#/$defs/item"},{"type":"null"}]}},
             "required":["value","next"],"additionalProperties":false}}}
            """),
        new("a chain of 1,000 references", ReferenceChain(1000)),
        new("a chain of 1,001 references (past the definitions limit)", ReferenceChain(1001), TooComplex, ".$defs"),
        new("1,000 optional properties", Properties(1000, i => $"p{i}", """{"type":"boolean"}""")),
        new("5,000 optional properties (a grammar past 5,000 rules)", Properties(5000, i => $"p{i}", """{"type":"boolean"}"""), TooComplex, ".properties.p4997"),
        new("20,000 properties with punctuation names", Properties(20_000, i => new string(".,;:!?"[i % 6], 1 + i % 9) + "#" + i, """{"type":"string","maxLength":3}"""), TooComplex, ".properties"),
        new("unicode and punctuation names and values",
            Properties(200, i => $"ключ {i} 🔑\"\\\n\t'.[{(char)(0x4e00 + i)}]", """{"enum":["ä","🙂","\u0000","'\"","\\"]}""")),
        new("a tuple of 1,000 items", Tuple(1000)),
        new("a tuple of 10,000 items", Tuple(10_000), TooComplex, ".prefixItems"),
        new("schemas nested 32 deep", Nested(31)),
        new("schemas nested 33 deep", Nested(32), TooComplex, ""),
        new("an enum of 1,000 values", Enum(1000)),
        new("an enum of 10,000 values", Enum(10_000), TooComplex, ".enum"),
        new("strings of at most 1,999, 2,000 and 2,001 characters", """
            {"type":"object","properties":{"a":{"type":"string","maxLength":1999},"b":{"type":"string","maxLength":2000},"c":{"type":"string","maxLength":2001}},
             "required":["a","b","c"],"additionalProperties":false}
            """),
        new("a string of at least 2,001 characters", """{"type":"object","properties":{"s":{"type":"string","minLength":2001,"maxLength":2100}},"required":["s"],"additionalProperties":false}""",
            MaxTokens: 6000),
        new("a string of at most 100,000 characters", """{"type":"object","properties":{"s":{"type":"string","maxLength":100000}},"required":["s"]}"""),
        new("a string of at most 100,001 characters", """{"type":"object","properties":{"s":{"type":"string","maxLength":100001}},"required":["s"]}""", TooComplex, ".properties.s"),
        // Whitespace between items is free, and a random model writes plenty of it.
        new("an array of 2,001 to 10,000 items", """{"type":"array","items":{"type":"integer","minimum":0,"maximum":9},"minItems":2001,"maxItems":10000}""",
            MaxTokens: 12_000),
        new("a const of 1,000 characters", "{\"type\":\"object\",\"properties\":{\"k\":{\"const\":\"" + new string('k', 1000) + "\"}},\"required\":[\"k\"]}"),
        new("names and values past 120,000 characters", Properties(1000, i => $"{i}-" + new string('n', 120), """{"type":"integer"}"""), TooComplex, ".properties"),
        new("anyOf of 1,001 schemas", "{\"anyOf\":[" + string.Join(",", Enumerable.Range(0, 1001).Select(i => $$"""{"const":{{i}}}""")) + "]}", TooComplex, ".anyOf"),
        new("integer bounds of 16 digits", """{"type":"integer","minimum":0,"maximum":1234567890123456}""", "unsupported_schema_keyword", ""),
    ];

    private static string ReferenceChain(int length)
    {
        var definitions = Enumerable.Range(0, length).Select(i => i == length - 1
            ? $$"""
                "d{{i}}":{"type":"string","maxLength":3}
                """
            : $$"""
                "d{{i}}":{"$ref":"#/$defs/d{{i + 1}}"}
                """);
        return "{\"$ref\":\"#/$defs/d0\",\"$defs\":{" + string.Join(",", definitions) + "}}";
    }

    private static string Properties(int count, Func<int, string> name, string schema) =>
        "{\"type\":\"object\",\"properties\":{" +
        string.Join(",", Enumerable.Range(0, count).Select(i => JsonSerializer.Serialize(name(i)) + ":" + schema)) + "}}";

    private static string Tuple(int length) =>
        "{\"type\":\"array\",\"items\":false,\"prefixItems\":[" + string.Join(",", Enumerable.Repeat("""{"type":"boolean"}""", length)) + "]}";

    // An object holding an array of arrays ... of integers: `depth` schemas below the root.
    private static string Nested(int depth)
    {
        var schema = new StringBuilder("""{"type":"integer","minimum":0,"maximum":9}""");
        for (var i = 0; i < depth; i++)
        {
            schema.Insert(0, """{"type":"array","maxItems":1,"items":""").Append('}');
        }
        return schema.ToString();
    }

    private static string Enum(int count) => "{\"enum\":[" + string.Join(",", Enumerable.Range(0, count).Select(i => $"\"value-{i}\"")) + "]}";
}
