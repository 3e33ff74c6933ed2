using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace LlmStack.Api.Backends.Embedded;

/// <summary>
/// Converts a JSON Schema into a llama.cpp GBNF grammar whose every complete sentence is a JSON text that
/// validates against the schema. Sampling with it, even a random-weight model can only write valid output.
/// </summary>
/// <remarks>
/// <para>Enforced: <c>type</c> (one or a list, so <c>["string","null"]</c> is a nullable string; OpenAPI's
/// <c>nullable: true</c> too), <c>properties</c> with <c>required</c> (properties are written in declaration
/// order; optional ones may be left out), <c>additionalProperties</c> (only declared properties are written when
/// there are any; an object without declared properties takes keys valued by the <c>additionalProperties</c>
/// schema), <c>enum</c>, <c>const</c>, <c>minLength</c>/<c>maxLength</c>, <c>format</c> date, time, date-time and
/// uuid, integer <c>minimum</c>/<c>maximum</c>/<c>exclusiveMinimum</c>/<c>exclusiveMaximum</c>, whole-number
/// bounds on numbers, <c>items</c>/<c>prefixItems</c> with <c>minItems</c>/<c>maxItems</c>, <c>anyOf</c>,
/// <c>oneOf</c> (as anyOf: exact only when its alternatives do not overlap, as in llama.cpp), a single-schema
/// <c>allOf</c>, and <c>$ref</c> into <c>$defs</c>/<c>definitions</c> (recursion included).</para>
/// <para>Annotations (<c>title</c>, <c>description</c>, <c>default</c>, <c>examples</c>, <c>x-*</c>, ...) are
/// ignored. Any other keyword (<c>pattern</c>, <c>multipleOf</c>, <c>uniqueItems</c>, <c>not</c>, ...) cannot be
/// held by a grammar and raises <see cref="UnsupportedSchemaException"/> naming it and where it is: it is never
/// silently dropped.</para>
/// <para>String lengths count code points as llama.cpp decodes the output; they hold for well-formed UTF-8
/// (a model sampling raw bytes freely can write overlong forms, which decode to other code points).</para>
/// <para>Unbounded parts are bounded so that generation always ends: numbers have at most 16 integer digits,
/// 16 fraction digits and 3 exponent digits, whitespace between tokens at most a newline and 20 blanks.</para>
/// </remarks>
internal sealed class JsonSchemaGrammar
{
    /// <summary>The rule every grammar starts from.</summary>
    public const string RootRule = "root";

    private static readonly HashSet<string> Annotations = new(StringComparer.Ordinal)
    {
        "$schema", "$id", "$comment", "$anchor", "$defs", "definitions", "title", "description", "default", "examples",
        "deprecated", "readOnly", "writeOnly", "contentMediaType", "contentEncoding", "strict",
    };

    private const string Space = """space ::= | " " | "\n" [ \t]{0,20}""";

    // The shared building blocks, added to a grammar only when a rule uses them.
    private static readonly Dictionary<string, string> Primitives = new(StringComparer.Ordinal)
    {
        ["space"] = Space,
        ["boolean"] = """boolean ::= ("true" | "false") space""",
        ["null"] = """null ::= "null" space""",
        // Surrogates are left out, raw and escaped: alone they are not text, and a length would count a pair twice.
        ["char"] = """char ::= [^"\\\x7F\x00-\x1F\uD800-\uDFFF] | [\\] (["\\/bfnrt] | "u" ( [0-9a-cA-CeEfF] [0-9a-fA-F]{3} | [dD] [0-7] [0-9a-fA-F]{2} ))""",
        ["string"] = """string ::= "\"" char* "\"" space""",
        ["integral-part"] = """integral-part ::= [0] | [1-9] [0-9]{0,15}""",
        ["decimal-part"] = """decimal-part ::= [0-9]{1,16}""",
        ["integer"] = """integer ::= "-"? integral-part space""",
        ["number"] = """number ::= "-"? integral-part ("." decimal-part)? ([eE] [-+]? [0-9]{1,3})? space""",
        ["value"] = """value ::= object | array | string | number | boolean | null""",
        ["object"] = """object ::= "{" space ( string ":" space value ( "," space string ":" space value )* )? "}" space""",
        ["array"] = """array ::= "[" space ( value ( "," space value )* )? "]" space""",
        ["date"] = """date ::= [0-9]{4} "-" ( ( "0" [13578] | "1" [02] ) "-" ( "0" [1-9] | [12] [0-9] | "3" [01] ) | ( "0" [469] | "11" ) "-" ( "0" [1-9] | [12] [0-9] | "30" ) | "02-" ( "0" [1-9] | "1" [0-9] | "2" [0-8] ) )""",
        ["time"] = """time ::= ( [01] [0-9] | "2" [0-3] ) ":" [0-5] [0-9] ":" [0-5] [0-9] ( "." [0-9]{1,6} )? ( "Z" | [+-] ( [01] [0-9] | "2" [0-3] ) ":" [0-5] [0-9] )""",
        ["uuid"] = """uuid ::= [0-9a-fA-F]{8} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{12}""",
    };

    // What each primitive needs in turn.
    private static readonly Dictionary<string, string[]> PrimitiveDependencies = new(StringComparer.Ordinal)
    {
        ["boolean"] = ["space"],
        ["null"] = ["space"],
        ["string"] = ["char", "space"],
        ["integer"] = ["integral-part", "space"],
        ["number"] = ["integral-part", "decimal-part", "space"],
        ["value"] = ["object", "array", "string", "number", "boolean", "null"],
        ["object"] = ["space", "string", "value"],
        ["array"] = ["space", "value"],
    };

    private JsonElement _document;
    private readonly List<string> _rules = [];
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _refRules = new(StringComparer.Ordinal);

    private JsonSchemaGrammar(JsonElement document) => _document = document;

    /// <summary>The GBNF text of <paramref name="schema"/>, starting at <see cref="RootRule"/>.</summary>
    /// <exception cref="UnsupportedSchemaException">The schema uses a keyword (or a value of one) that a grammar cannot enforce.</exception>
    public static string FromSchema(JsonElement schema)
    {
        var converter = new JsonSchemaGrammar(schema);
        converter._names.Add(RootRule);
        var root = converter.Visit(schema, "#", "root-value");
        converter._rules.Insert(0, $"{RootRule} ::= {root}");
        return string.Join('\n', converter._rules) + "\n";
    }

    /// <summary>
    /// The GBNF text of a Qwen2.5/Hermes-style tool call of one of <paramref name="functions"/>, whose arguments
    /// follow that function's parameter schema:
    /// <c>&lt;tool_call&gt;\n{"name": "...", "arguments": {...}}\n&lt;/tool_call&gt;</c>.
    /// </summary>
    /// <param name="functions">Each function's name and its parameter schema (null for "any JSON object").</param>
    public static string ToolCall(IReadOnlyList<(string Name, JsonElement? Parameters)> functions)
    {
        if (functions.Count == 0)
        {
            throw new ArgumentException("A tool call needs at least one function.", nameof(functions));
        }
        var converter = new JsonSchemaGrammar(default);
        converter._names.Add(RootRule);
        var calls = new List<string>();
        foreach (var (name, parameters) in functions.DistinctBy(f => f.Name))
        {
            // $ref in a tool's parameters points into that same schema.
            converter._document = parameters ?? default;
            converter._refRules.Clear();
            var arguments = parameters is { } schema
                ? converter.Visit(schema, $"#/tools/{name}/parameters", $"{name}-arguments")
                : converter.Primitive("object");
            calls.Add($"{Literal("{\"name\": " + JsonText(name) + ", \"arguments\": ")} {arguments} {Literal("}")}");
        }
        converter._rules.Insert(0, $"{RootRule} ::= {Literal("<tool_call>\n")} ( {string.Join(" | ", calls)} ) {Literal("\n</tool_call>")}");
        return string.Join('\n', converter._rules) + "\n";
    }

    /// <summary>A GBNF expression matching exactly the JSON texts <paramref name="schema"/> accepts (followed by optional space).</summary>
    private string Visit(JsonElement schema, string path, string nameHint)
    {
        switch (schema.ValueKind)
        {
            case JsonValueKind.True:
                return Primitive("value");
            case JsonValueKind.False:
                throw new UnsupportedSchemaException("false", path, "a schema that accepts nothing has no output to generate");
            case JsonValueKind.Object:
                break;
            default:
                throw new UnsupportedSchemaException("type", path, "a schema must be an object or a boolean");
        }

        if (schema.TryGetProperty("$ref", out var reference))
        {
            RequireNoSiblings(schema, path, "$ref");
            return Reference(reference, path);
        }
        foreach (var combinator in (string[])["anyOf", "oneOf"])
        {
            if (schema.TryGetProperty(combinator, out var alternatives))
            {
                RequireNoSiblings(schema, path, combinator);
                var options = Items(alternatives, $"{path}/{combinator}", combinator)
                    .Select((alternative, i) => Visit(alternative, $"{path}/{combinator}/{i}", $"{nameHint}-{i}"))
                    .ToList();
                return options.Count == 0
                    ? throw new UnsupportedSchemaException(combinator, path, "it lists no schema")
                    : Rule(nameHint, string.Join(" | ", options));
            }
        }
        if (schema.TryGetProperty("allOf", out var allOf))
        {
            RequireNoSiblings(schema, path, "allOf");
            var parts = Items(allOf, $"{path}/allOf", "allOf").ToList();
            return parts.Count == 1
                ? Visit(parts[0], $"{path}/allOf/0", nameHint)
                : throw new UnsupportedSchemaException("allOf", path, "only a single schema in allOf can be enforced");
        }

        RequireKnownKeywords(schema, path);
        var nullable = schema.TryGetProperty("nullable", out var n) && n.ValueKind == JsonValueKind.True;

        if (schema.TryGetProperty("const", out var constant))
        {
            return Nullable($"{Literal(JsonText(constant))} {Primitive("space")}", nullable);
        }
        if (schema.TryGetProperty("enum", out var values))
        {
            var literals = Items(values, $"{path}/enum", "enum").Select(value => Literal(JsonText(value))).Distinct().ToList();
            return literals.Count == 0
                ? throw new UnsupportedSchemaException("enum", path, "it lists no value")
                : Nullable(Rule(nameHint, $"( {string.Join(" | ", literals)} ) {Primitive("space")}"), nullable);
        }

        var types = Types(schema, path);
        if (nullable && !types.Contains("null"))
        {
            types.Add("null");
        }
        var typed = types.Select(type => VisitType(schema, type, path, types.Count > 1 ? $"{nameHint}-{type}" : nameHint)).ToList();
        return typed.Count == 1 ? typed[0] : Rule(nameHint, string.Join(" | ", typed));
    }

    private string Nullable(string expression, bool nullable) => nullable ? $"( {expression} | {Primitive("null")} )" : expression;

    private List<string> Types(JsonElement schema, string path)
    {
        if (!schema.TryGetProperty("type", out var type))
        {
            // Untyped: what the structural keywords imply, else any JSON value.
            return schema.TryGetProperty("properties", out _) || schema.TryGetProperty("additionalProperties", out _) ? ["object"]
                : schema.TryGetProperty("items", out _) || schema.TryGetProperty("prefixItems", out _) ? ["array"]
                : ["any"];
        }
        var types = type.ValueKind switch
        {
            JsonValueKind.String => [type.GetString()!],
            JsonValueKind.Array => type.EnumerateArray().Select(t => t.ValueKind == JsonValueKind.String
                ? t.GetString()!
                : throw new UnsupportedSchemaException("type", path, "the list of types must hold strings")).Distinct().ToList(),
            _ => throw new UnsupportedSchemaException("type", path, "it must be a string or a list of strings"),
        };
        return types.Count > 0 ? types : throw new UnsupportedSchemaException("type", path, "the list of types is empty");
    }

    private string VisitType(JsonElement schema, string type, string path, string nameHint) => type switch
    {
        "any" => Primitive("value"),
        "null" => Primitive("null"),
        "boolean" => Primitive("boolean"),
        "string" => StringRule(schema, path, nameHint),
        "integer" => IntegerRule(schema, path, nameHint),
        "number" => NumberRule(schema, path, nameHint),
        "object" => ObjectRule(schema, path, nameHint),
        "array" => ArrayRule(schema, path, nameHint),
        _ => throw new UnsupportedSchemaException("type", path, $"'{type}' is not a JSON Schema type"),
    };

    private string StringRule(JsonElement schema, string path, string nameHint)
    {
        if (schema.TryGetProperty("format", out var format))
        {
            var name = format.GetString() switch
            {
                "date" => Primitive("date"),
                "time" => Primitive("time"),
                "date-time" => Rule("date-time", $"{Primitive("date")} \"T\" {Primitive("time")}"),
                "uuid" => Primitive("uuid"),
                var other => throw new UnsupportedSchemaException("format", path, $"the format '{other}' cannot be enforced (date, time, date-time and uuid can)"),
            };
            return Rule($"{nameHint}-string", $"\"\\\"\" {name} \"\\\"\" {Primitive("space")}");
        }
        var min = Count(schema, "minLength", path);
        var max = Count(schema, "maxLength", path);
        if (min is null && max is null)
        {
            return Primitive("string");
        }
        if (max < min)
        {
            throw new UnsupportedSchemaException("maxLength", path, "it is less than minLength, so no string fits");
        }
        return Rule($"{nameHint}-string", $"\"\\\"\" {Primitive("char")}{Repetition(min ?? 0, max)} \"\\\"\" {Primitive("space")}");
    }

    private string IntegerRule(JsonElement schema, string path, string nameHint)
    {
        var (min, max) = IntegerBounds(schema, path, wholeOnly: false);
        if (min is null && max is null)
        {
            return Primitive("integer");
        }
        if (min > max)
        {
            throw new UnsupportedSchemaException("maximum", path, "no integer lies between the bounds");
        }
        return Rule($"{nameHint}-integer", $"( {IntegerRange.Expression(min, max)} ) {Primitive("space")}");
    }

    // A number between whole bounds: its integer part in range (with any fraction), or the upper bound itself
    // (with zeros only), and no exponent.
    private string NumberRule(JsonElement schema, string path, string nameHint)
    {
        if (schema.TryGetProperty("exclusiveMinimum", out _) || schema.TryGetProperty("exclusiveMaximum", out _))
        {
            throw new UnsupportedSchemaException(schema.TryGetProperty("exclusiveMinimum", out _) ? "exclusiveMinimum" : "exclusiveMaximum",
                path, "exclusive bounds are enforced on integers only");
        }
        var (min, max) = IntegerBounds(schema, path, wholeOnly: true);
        if (min is null && max is null)
        {
            return Primitive("number");
        }
        if (min > max)
        {
            throw new UnsupportedSchemaException("maximum", path, "no number lies between the bounds");
        }
        var fraction = $"( \".\" {Primitive("decimal-part")} )?";
        var zeros = "( \".\" \"0\"{1,16} )?";
        var alternatives = new List<string>();
        // Magnitudes |x| in [lo, hi] written without sign; hi null = unbounded.
        void Magnitude(string sign, decimal lo, decimal? hi)
        {
            if (hi is null)
            {
                alternatives.Add($"{sign}( {IntegerRange.Expression(lo, null)} ) {fraction}");
            }
            else
            {
                if (hi > lo)
                {
                    alternatives.Add($"{sign}( {IntegerRange.Expression(lo, hi - 1)} ) {fraction}");
                }
                alternatives.Add($"{sign}{Literal(hi.Value.ToString(CultureInfo.InvariantCulture))} {zeros}");
            }
        }
        // Negative numbers: the magnitude is bounded by -min (lower edge exact) and starts at -max when max < 0.
        if (min is null || min < 0)
        {
            var lowMagnitude = max < 0 ? -max.Value : 0;
            if (min is null)
            {
                alternatives.Add($"\"-\" ( {IntegerRange.Expression(lowMagnitude, null)} ) {fraction}");
            }
            else
            {
                Magnitude("\"-\" ", lowMagnitude, -min.Value);
            }
        }
        if (max is null || max >= 0)
        {
            var lo = min is null || min < 0 ? 0 : min.Value;
            if (max is null)
            {
                alternatives.Add($"( {IntegerRange.Expression(lo, null)} ) {fraction}");
            }
            else
            {
                Magnitude("", lo, max.Value);
            }
        }
        return Rule($"{nameHint}-number", $"( {string.Join(" | ", alternatives)} ) {Primitive("space")}");
    }

    private (decimal? Min, decimal? Max) IntegerBounds(JsonElement schema, string path, bool wholeOnly)
    {
        decimal? min = null, max = null;
        foreach (var (keyword, isMin, exclusive) in new[] { ("minimum", true, false), ("maximum", false, false), ("exclusiveMinimum", true, true), ("exclusiveMaximum", false, true) })
        {
            if (!schema.TryGetProperty(keyword, out var bound))
            {
                continue;
            }
            if (bound.ValueKind != JsonValueKind.Number || !bound.TryGetDecimal(out var value) || Math.Abs(value) > 999_999_999_999_999m)
            {
                throw new UnsupportedSchemaException(keyword, path, "it must be a number of at most 15 digits");
            }
            if (wholeOnly && value != decimal.Truncate(value))
            {
                throw new UnsupportedSchemaException(keyword, path, "bounds on numbers are enforced when they are whole numbers");
            }
            // For integers: x > 1.5 means x >= 2; x > 2 means x >= 3.
            var whole = isMin
                ? (exclusive ? decimal.Floor(value) + 1 : decimal.Ceiling(value))
                : (exclusive ? decimal.Ceiling(value) - 1 : decimal.Floor(value));
            if (isMin)
            {
                min = min is null ? whole : Math.Max(min.Value, whole);
            }
            else
            {
                max = max is null ? whole : Math.Min(max.Value, whole);
            }
        }
        return (min, max);
    }

    private string ObjectRule(JsonElement schema, string path, string nameHint)
    {
        var additional = schema.TryGetProperty("additionalProperties", out var a) ? a : (JsonElement?)null;
        if (!schema.TryGetProperty("properties", out var properties) || properties.ValueKind != JsonValueKind.Object || !properties.EnumerateObject().Any())
        {
            if (schema.TryGetProperty("required", out var required) && required.GetArrayLength() > 0)
            {
                throw new UnsupportedSchemaException("required", path, "required properties must be declared in 'properties'");
            }
            return additional switch
            {
                null or { ValueKind: JsonValueKind.True } => Primitive("object"),
                { ValueKind: JsonValueKind.False } => Rule($"{nameHint}-empty", $"\"{{\" {Primitive("space")} \"}}\" {Primitive("space")}"),
                // A map: any keys, each value following the additionalProperties schema.
                { } valueSchema => MapRule(Visit(valueSchema, $"{path}/additionalProperties", $"{nameHint}-value"), nameHint),
            };
        }

        var requiredNames = schema.TryGetProperty("required", out var r)
            ? Items(r, $"{path}/required", "required").Select(name => name.GetString() ?? throw new UnsupportedSchemaException("required", path, "it must list strings")).ToHashSet(StringComparer.Ordinal)
            : [];
        var members = new List<(string Rule, bool Required)>();
        foreach (var property in properties.EnumerateObject())
        {
            var value = Visit(property.Value, $"{path}/properties/{property.Name}", $"{nameHint}-{property.Name}");
            var member = Rule($"{nameHint}-{property.Name}-kv", $"{Literal(JsonText(property.Name))} {Primitive("space")} \":\" {Primitive("space")} {value}");
            members.Add((member, requiredNames.Remove(property.Name)));
        }
        if (requiredNames.Count > 0)
        {
            throw new UnsupportedSchemaException("required", path, $"'{requiredNames.First()}' is required but not declared in 'properties'");
        }

        // Members in declaration order; optional ones may be left out. after[i]: members i.. once one was
        // written (each then starts with a comma); first[i]: members i.. when none was written yet.
        var after = new string[members.Count + 1];
        var first = new string[members.Count + 1];
        after[members.Count] = first[members.Count] = "";
        for (var i = members.Count - 1; i >= 0; i--)
        {
            var (member, isRequired) = members[i];
            var withComma = $"\",\" {Primitive("space")} {member}";
            if (isRequired)
            {
                after[i] = Sequence(withComma, after[i + 1]);
                first[i] = Sequence(member, after[i + 1]);
            }
            else
            {
                after[i] = Sequence($"( {withComma} )?", after[i + 1]);
                first[i] = first[i + 1].Length == 0
                    ? $"( {member} )?"
                    : $"( {Sequence(member, after[i + 1])} | {first[i + 1]} )";
            }
            // Named rules keep the grammar linear in the number of properties.
            if (i > 0)
            {
                after[i] = after[i].Length == 0 ? "" : Rule($"{nameHint}-after-{i}", after[i]);
                first[i] = first[i].Length == 0 ? "" : Rule($"{nameHint}-from-{i}", first[i]);
            }
        }
        return Rule(nameHint, $"\"{{\" {Primitive("space")} {first[0]} \"}}\" {Primitive("space")}");
    }

    private string MapRule(string value, string nameHint)
    {
        var entry = Rule($"{nameHint}-entry", $"{Primitive("string")} \":\" {Primitive("space")} {value}");
        return Rule(nameHint, $"\"{{\" {Primitive("space")} ( {entry} ( \",\" {Primitive("space")} {entry} )* )? \"}}\" {Primitive("space")}");
    }

    private string ArrayRule(JsonElement schema, string path, string nameHint)
    {
        var min = Count(schema, "minItems", path) ?? 0;
        var max = Count(schema, "maxItems", path);
        if (max < min)
        {
            throw new UnsupportedSchemaException("maxItems", path, "it is less than minItems, so no array fits");
        }
        var comma = $"\",\" {Primitive("space")}";
        var prefix = schema.TryGetProperty("prefixItems", out var p)
            ? Items(p, $"{path}/prefixItems", "prefixItems").Select((item, i) => Visit(item, $"{path}/prefixItems/{i}", $"{nameHint}-{i}")).ToList()
            : [];
        var items = schema.TryGetProperty("items", out var itemSchema)
            ? itemSchema.ValueKind == JsonValueKind.False ? null : Visit(itemSchema, $"{path}/items", $"{nameHint}-item")
            : Primitive("value");

        if (prefix.Count == 0)
        {
            if (items is null)
            {
                return min > 0
                    ? throw new UnsupportedSchemaException("minItems", path, "items is false, so no array fits")
                    : Rule(nameHint, $"\"[\" {Primitive("space")} \"]\" {Primitive("space")}");
            }
            var list = max == 0 ? "" : min == 0
                ? $"( {items} ( {comma} {items} ){Repetition(0, max - 1)} )?"
                : $"{items} ( {comma} {items} ){Repetition(min - 1, max - 1)}";
            return Rule(nameHint, $"\"[\" {Primitive("space")} {list} \"]\" {Primitive("space")}");
        }

        // A tuple: the prefix items in order, then (when items allows) more items, within min/max.
        if (min > prefix.Count && items is null)
        {
            throw new UnsupportedSchemaException("minItems", path, "it asks for more items than prefixItems allows");
        }
        var count = max is { } m ? Math.Min(m, prefix.Count) : prefix.Count;
        // The shortest tuple that can be written must still satisfy minItems.
        var alternatives = new List<string>();
        for (var length = Math.Max(min, 0); length <= count; length++)
        {
            if (length > 0 || min == 0)
            {
                var elements = string.Join($" {comma} ", prefix.Take(length));
                var more = length == prefix.Count && items is not null && (max is null || max > prefix.Count)
                    ? $" ( {comma} {items} ){Repetition(Math.Max(0, min - prefix.Count), max - prefix.Count)}"
                    : "";
                alternatives.Add(length == 0 ? "\"\"" : elements + more);
            }
        }
        return Rule(nameHint, $"\"[\" {Primitive("space")} ( {string.Join(" | ", alternatives)} ) \"]\" {Primitive("space")}");
    }

    private string Reference(JsonElement reference, string path)
    {
        var target = reference.GetString();
        if (target is null || !target.StartsWith('#'))
        {
            throw new UnsupportedSchemaException("$ref", path, $"only references inside the schema (#/$defs/...) can be followed, not '{target}'");
        }
        if (_refRules.TryGetValue(target, out var existing))
        {
            return existing;
        }
        var resolved = _document;
        foreach (var segment in target.TrimStart('#').Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            var key = Uri.UnescapeDataString(segment).Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);
            if (resolved.ValueKind != JsonValueKind.Object || !resolved.TryGetProperty(key, out resolved))
            {
                throw new UnsupportedSchemaException("$ref", path, $"'{target}' does not point to a schema in this document");
            }
        }
        // The rule is named before its body is built, so that a recursive schema refers to itself.
        var name = UniqueName(target.Split('/')[^1] is { Length: > 0 } last ? "ref-" + last : "ref-root");
        _refRules[target] = name;
        var body = Visit(resolved, target, name + "-body");
        _rules.Add($"{name} ::= {body}");
        return name;
    }

    private static void RequireNoSiblings(JsonElement schema, string path, string keyword)
    {
        foreach (var property in schema.EnumerateObject())
        {
            if (property.Name != keyword && !IsAnnotation(property.Name))
            {
                throw new UnsupportedSchemaException(property.Name, path, $"it cannot be combined with '{keyword}' in one schema");
            }
        }
    }

    private static readonly HashSet<string> Enforced = new(StringComparer.Ordinal)
    {
        "type", "nullable", "enum", "const", "properties", "required", "additionalProperties", "items", "prefixItems",
        "minItems", "maxItems", "minLength", "maxLength", "format", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
    };

    private static void RequireKnownKeywords(JsonElement schema, string path)
    {
        foreach (var property in schema.EnumerateObject())
        {
            if (!Enforced.Contains(property.Name) && !IsAnnotation(property.Name))
            {
                throw new UnsupportedSchemaException(property.Name, path, "a grammar cannot enforce it");
            }
        }
    }

    private static bool IsAnnotation(string keyword) =>
        Annotations.Contains(keyword) || keyword.StartsWith("x-", StringComparison.Ordinal);

    private static IEnumerable<JsonElement> Items(JsonElement array, string path, string keyword) =>
        array.ValueKind == JsonValueKind.Array
            ? array.EnumerateArray()
            : throw new UnsupportedSchemaException(keyword, path, "it must be an array");

    private static int? Count(JsonElement schema, string keyword, string path) =>
        !schema.TryGetProperty(keyword, out var value) ? null
        : value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var count) && count >= 0 ? count
        : throw new UnsupportedSchemaException(keyword, path, "it must be a non-negative integer");

    // {m,n} in GBNF; {m,} when unbounded.
    private static string Repetition(int min, int? max) =>
        max is { } m ? (m == min ? $"{{{m}}}" : $"{{{min},{m}}}") : min == 0 ? "*" : $"{{{min},}}";

    private static string Sequence(string head, string tail) => tail.Length == 0 ? head : $"{head} {tail}";

    private string Primitive(string name)
    {
        if (_names.Add(name))
        {
            _rules.Add(Primitives[name]);
            foreach (var dependency in PrimitiveDependencies.GetValueOrDefault(name, []))
            {
                Primitive(dependency);
            }
        }
        return name;
    }

    private string Rule(string nameHint, string body)
    {
        var name = UniqueName(nameHint);
        _rules.Add($"{name} ::= {body}");
        return name;
    }

    // GBNF rule names are letters, digits and dashes.
    private string UniqueName(string hint)
    {
        var clean = new StringBuilder(hint.Length);
        foreach (var c in hint)
        {
            clean.Append(char.IsAsciiLetterOrDigit(c) ? c : '-');
        }
        var baseName = clean.Length > 0 ? clean.ToString() : "rule";
        if (Primitives.ContainsKey(baseName))
        {
            baseName += "-schema";
        }
        var name = baseName;
        for (var i = 2; !_names.Add(name); i++)
        {
            name = $"{baseName}-{i}";
        }
        return name;
    }

    private static readonly JsonSerializerOptions CompactRelaxed = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The compact JSON text of a value (as the model must write it).</summary>
    private static string JsonText(JsonElement value)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = CompactRelaxed.Encoder }))
        {
            value.WriteTo(writer);
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static string JsonText(string value) => "\"" + JsonEncodedText.Encode(value, JavaScriptEncoder.UnsafeRelaxedJsonEscaping) + "\"";

    /// <summary>A GBNF string literal of <paramref name="text"/>.</summary>
    internal static string Literal(string text)
    {
        var literal = new StringBuilder(text.Length + 2).Append('"');
        foreach (var c in text)
        {
            literal.Append(c switch
            {
                '\\' => "\\\\",
                '"' => "\\\"",
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                < ' ' => $"\\x{(int)c:X2}",
                _ => c.ToString(),
            });
        }
        return literal.Append('"').ToString();
    }
}

/// <summary>A schema keyword that a grammar cannot enforce: <see cref="Keyword"/> at <see cref="SchemaPath"/>.</summary>
internal sealed class UnsupportedSchemaException(string keyword, string schemaPath, string reason)
    : Exception($"The JSON Schema keyword '{keyword}' at '{schemaPath}' cannot be enforced: {reason}.")
{
    public string Keyword { get; } = keyword;

    public string SchemaPath { get; } = schemaPath;
}
