using System.Text;
using System.Text.Json;

namespace LlmStack.Benchmarks.Schemas;

/// <summary>
/// Schemas as large as a request may carry, for the <c>schemas</c> benchmark: each at or near a bound of
/// <c>JsonSchemaBounds</c> (1 MiB of JSON, 5,000 properties, 1,000 definitions, 1,000 enum values or list items,
/// 10,000 schemas, 120,000 characters of names and values, nesting 32 deep) and of the converter (lengths and counts
/// up to 100,000), or past them, up to the body limit (16 MiB). Together with <see cref="HostileSchemas"/> they are the
/// corpus whose conversion is timed.
/// </summary>
public static class LargeSchemas
{
    /// <summary>The API's default body limit (<c>LlmStack:MaxRequestBodySize</c>).</summary>
    public const int BodyLimit = 16 * 1024 * 1024;

    private const string Punctuation = ".,;:!?-_ /\\\"'#$%&*+<=>@[]^`{|}~()";

    public static IReadOnlyList<(string Name, string Json)> All { get; } =
    [
        ("a 16 MiB schema (a long description)", Padded(BodyLimit - 1024)),
        ("a schema of just under 1 MiB (a long description)", Padded(1024 * 1024 - 64)),
        ("5,000 properties with punctuation names", Properties(5000, PunctuationName, """{"type":"string","maxLength":10}""")),
        ("5,000 properties whose names differ only in punctuation", Properties(5000, i => "a" + PunctuationName(i), """{"type":"boolean"}""")),
        ("5,000 strings of exactly 10,000 characters", Properties(5000, i => $"s{i}", """{"type":"string","minLength":10000,"maxLength":10000}""")),
        ("5,000 strings of at most 100,000 characters", Properties(5000, i => $"s{i}", """{"type":"string","maxLength":100000}""")),
        ("4,999 arrays of 10,000 to 100,000 integers", Properties(4999, i => $"a{i}", """{"type":"array","items":{"type":"integer","minimum":-999999999999999,"maximum":999999999999999},"minItems":10000,"maxItems":100000}""")),
        ("5,000 integers with 15-digit bounds", Properties(5000, i => $"n{i}", $$"""{"type":"integer","minimum":-{{999999999999999 - 1}},"maximum":999999999999999}""")),
        ("a chain of 1,000 references, each an object of 4 properties", ObjectChain(1000, 4)),
        ("1,000 definitions, each referring to the next twice", Diamond(1000)),
        ("a tuple of 1,000 strings of at most 10,000 characters", Tuple(1000, """{"type":"string","maxLength":10000}""")),
        ("schemas nested 32 deep, each an array of 10,000 items", NestedArrays(31, 10000)),
        ("objects nested 32 deep, 150 properties each", NestedObjects(32, 150)),
        ("an enum of 1,000 values of 119 characters (quotes, backslashes, unicode)", Enum(1000, 119)),
        ("anyOf of 1,000 objects of 5 properties", AnyOfObjects(1000, 4)),
        ("a const object of 10,000 members", "{\"const\":{" + string.Join(",", Enumerable.Range(0, 10_000).Select(i => $"\"{i}\":{i}")) + "}}"),
        ("a const of 119,990 characters", "{\"const\":\"" + new string('c', 119_990) + "\"}"),
    ];

    private static string PunctuationName(int i)
    {
        // Distinct names of punctuation only (and a digit suffix past the first thousands), which sanitize to nothing.
        var name = new StringBuilder();
        for (var n = i + 1; n > 0; n /= Punctuation.Length)
        {
            name.Append(Punctuation[n % Punctuation.Length]);
        }
        return name.ToString();
    }

    private static string Padded(int bytes)
    {
        const string head = """{"type":"object","properties":{"a":{"type":"string","maxLength":8}},"required":["a"],"description":""" + "\"";
        return head + new string('d', bytes - head.Length - 2) + "\"}";
    }

    private static string Properties(int count, Func<int, string> name, string schema) =>
        "{\"type\":\"object\",\"properties\":{" +
        string.Join(",", Enumerable.Range(0, count).Select(i => JsonSerializer.Serialize(name(i)) + ":" + schema)) + "}}";

    private static string Object(int properties, string extra = "") =>
        "{\"type\":\"object\",\"properties\":{" +
        string.Join(",", Enumerable.Range(0, properties).Select(p => $$"""
            "p{{p}}":{"type":"string","maxLength":{{1 + p}}}
            """)) + extra + "}}";

    private static string ObjectChain(int length, int properties)
    {
        var definitions = Enumerable.Range(0, length).Select(i => $"\"d{i}\":" + (i == length - 1
            ? Object(properties)
            : Object(properties - 1, $$""","next":{"$ref":"#/$defs/d{{i + 1}}"}""")));
        return "{\"$ref\":\"#/$defs/d0\",\"$defs\":{" + string.Join(",", definitions) + "}}";
    }

    // Inlined, each definition would double the one after it: 2^1000.
    private static string Diamond(int length)
    {
        var definitions = Enumerable.Range(0, length).Select(i => i == length - 1
            ? $$"""
                "d{{i}}":{"type":"boolean"}
                """
            : $$"""
                "d{{i}}":{"type":"array","items":false,"prefixItems":[{"$ref":"#/$defs/d{{i + 1}}"},{"$ref":"#/$defs/d{{i + 1}}"}]}
                """);
        return "{\"$ref\":\"#/$defs/d0\",\"$defs\":{" + string.Join(",", definitions) + "}}";
    }

    private static string Tuple(int length, string item) =>
        "{\"type\":\"array\",\"items\":false,\"prefixItems\":[" + string.Join(",", Enumerable.Repeat(item, length)) + "]}";

    private static string NestedArrays(int depth, int items)
    {
        var schema = new StringBuilder("""{"type":"integer","minimum":0,"maximum":9}""");
        for (var i = 0; i < depth; i++)
        {
            schema.Insert(0, $$"""{"type":"array","minItems":0,"maxItems":{{items}},"items":""").Append('}');
        }
        return schema.ToString();
    }

    // depth objects, one inside the other through property "in"; each has properties - 1 more.
    private static string NestedObjects(int depth, int properties)
    {
        var schema = Object(properties);
        for (var i = 1; i < depth; i++)
        {
            schema = Object(properties - 1, ",\"in\":" + schema);
        }
        return schema;
    }

    private static string Enum(int count, int length) =>
        "{\"enum\":[" + string.Join(",", Enumerable.Range(0, count).Select(i =>
            JsonSerializer.Serialize($"{i}\"\\é🙂\u0001" + new string((char)('a' + i % 26), length - 6 - i.ToString(System.Globalization.CultureInfo.InvariantCulture).Length)))) + "]}";

    private static string AnyOfObjects(int count, int properties) =>
        "{\"anyOf\":[" + string.Join(",", Enumerable.Range(0, count).Select(i => Object(properties, $$""","kind":{"const":{{i}}}"""))) + "]}";
}
