using System.Globalization;
using System.Runtime.CompilerServices;
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
/// <para>Refused too, naming where: a <c>$ref</c> cycle that can never end (a required property of the
/// schema's own type; a recursive schema whose recursion is optional works), one that refers to itself before
/// writing anything (llama.cpp refuses left recursion), a length or count above <see cref="MaxCount"/>, and a
/// grammar of more than <see cref="MaxRules"/> rules or <see cref="MaxGrammarChars"/> characters. Conversion is
/// linear in the schema and the grammar: references are followed from a work list (a chain of thousands of
/// them needs no deeper stack), rule names cost constant time each, and counts past llama.cpp's limit of 2000
/// are built from shared rules (<see cref="GbnfGrammar.Repeat"/>). A cancelled request stops it.</para>
/// <para>String lengths count code points as llama.cpp decodes the output; the embedded engine accepts only
/// tokens that keep the output well-formed UTF-8, so they are the code points every client decodes.</para>
/// <para>Unbounded parts are bounded so that generation always ends: numbers have at most 16 integer digits,
/// 16 fraction digits and 3 exponent digits, whitespace between tokens at most a newline and 20 blanks.</para>
/// </remarks>
internal sealed class JsonSchemaGrammar
{
    /// <summary>The rule every grammar starts from.</summary>
    public const string RootRule = "root";

    /// <summary>The largest <c>minLength</c>, <c>maxLength</c>, <c>minItems</c> or <c>maxItems</c> a grammar enforces.</summary>
    public const int MaxCount = 100_000;

    /// <summary>The most rules one grammar may have (a schema's every part is a few rules; counts past 1000 add a rule per 1000).</summary>
    public const int MaxRules = 5_000;

    /// <summary>The longest grammar text (characters) a schema may become.</summary>
    public const int MaxGrammarChars = 300_000;

    /// <summary>Schemas nested deeper than this in one document are refused (a guard: the API's limits refuse far less).</summary>
    private const int MaxNesting = 128;

    private static readonly HashSet<string> Annotations = new(StringComparer.Ordinal)
    {
        "$schema", "$id", "$comment", "$anchor", "$defs", "definitions", "title", "description", "default", "examples",
        "deprecated", "readOnly", "writeOnly", "contentMediaType", "contentEncoding", "strict",
    };

    private static readonly HashSet<string> Enforced = new(StringComparer.Ordinal)
    {
        "type", "nullable", "enum", "const", "properties", "required", "additionalProperties", "items", "prefixItems",
        "minItems", "maxItems", "minLength", "maxLength", "format", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
    };

    private static readonly string[] PrimitiveNames =
    [
        "space", "boolean", "null", "char", "string", "integral-part", "decimal-part", "integer", "number", "value", "object",
        "array", "date", "time", "uuid", RootRule,
    ];

    private readonly GbnfGrammar _grammar;
    private readonly CancellationToken _cancellationToken;
    private readonly Dictionary<string, GbnfRef> _primitives = new(StringComparer.Ordinal);
    private readonly Dictionary<(int Document, string Pointer), GbnfRef> _references = [];
    private readonly Queue<(int Rule, JsonElement Schema, string Path)> _pendingReferences = new();
    private JsonElement _document;
    private int _documentIndex;
    private long _size;
    private int _nodes;

    private JsonSchemaGrammar(CancellationToken cancellationToken)
    {
        _cancellationToken = cancellationToken;
        _grammar = new GbnfGrammar { Growing = Grow };
        foreach (var name in PrimitiveNames)
        {
            _grammar.Reserve(name);
        }
    }

    /// <summary>Where the conversion is: the pointer named when a limit is reached.</summary>
    private string _at = "#";

    /// <summary>The GBNF text of <paramref name="schema"/>, starting at <see cref="RootRule"/>.</summary>
    /// <exception cref="UnsupportedSchemaException">The schema uses a keyword (or a value of one) that a grammar cannot enforce, or is beyond the limits.</exception>
    public static string FromSchema(JsonElement schema, CancellationToken cancellationToken = default)
    {
        var converter = new JsonSchemaGrammar(cancellationToken);
        var root = converter._grammar.DeclareNamed(RootRule, "#");
        converter._document = schema;
        converter._grammar.Define(root, converter.Visit(schema, "#", "root-value", 0));
        return converter.Finish(root);
    }

    /// <summary>
    /// The GBNF text of a Qwen2.5/Hermes-style tool call of one of <paramref name="functions"/>, whose arguments
    /// follow that function's parameter schema:
    /// <c>&lt;tool_call&gt;\n{"name": "...", "arguments": {...}}\n&lt;/tool_call&gt;</c>. A function whose schema is
    /// refused takes any JSON object as arguments unless it is strict (then the refusal names the function).
    /// </summary>
    /// <param name="functions">Each function's name, its parameter schema (null for "any JSON object"), and whether it is strict.</param>
    /// <param name="cancellationToken">Stops the conversion (the request was cancelled).</param>
    public static string ToolCall(IReadOnlyList<(string Name, JsonElement? Parameters, bool Strict)> functions, CancellationToken cancellationToken = default)
    {
        if (functions.Count == 0)
        {
            throw new ArgumentException("A tool call needs at least one function.", nameof(functions));
        }
        var converter = new JsonSchemaGrammar(cancellationToken);
        var g = converter._grammar;
        var root = g.DeclareNamed(RootRule, "#");
        var calls = new List<GbnfExpr>();
        foreach (var (name, parameters, strict) in functions.DistinctBy(f => f.Name))
        {
            // $ref in a tool's parameters points into that same schema.
            converter._document = parameters ?? default;
            converter._documentIndex++;
            GbnfExpr arguments;
            try
            {
                arguments = parameters is { } schema ? converter.Visit(schema, "#", $"{name}-arguments", 0) : converter.Primitive("object");
                converter.DrainReferences();
            }
            catch (UnsupportedSchemaException) when (!strict)
            {
                // What was built for it stays unreachable: the grammar is written from the root.
                converter._pendingReferences.Clear();
                arguments = converter.Primitive("object");
            }
            catch (UnsupportedSchemaException ex)
            {
                throw ex.In(name);
            }
            calls.Add(g.Sequence(g.Literal("{\"name\": " + JsonText(name) + ", \"arguments\": "), arguments, g.Literal("}")));
        }
        g.Define(root, g.Sequence(g.Literal("<tool_call>\n"), g.Choice(calls), g.Literal("\n</tool_call>")));
        return converter.Finish(root);
    }

    private string Finish(int root)
    {
        DrainReferences();
        if (_grammar.Check(root, _cancellationToken) is { } problem)
        {
            throw new UnsupportedSchemaException(null, _grammar.OriginOf(problem.Rule), problem.Reason, UnsupportedSchemaException.NeverEndsCode);
        }
        // Grow counts as the grammar is built, to stop early; the text itself is what the bound is on.
        var text = _grammar.Render(root);
        if (text.Length > MaxGrammarChars)
        {
            throw TooLong("#");
        }
        return text;
    }

    // Each referenced schema once, from a work list rather than recursively: a chain of references costs no stack.
    private void DrainReferences()
    {
        while (_pendingReferences.TryDequeue(out var pending))
        {
            _grammar.Define(pending.Rule, Visit(pending.Schema, pending.Path, _grammar.NameOf(pending.Rule) + "-body", 0));
        }
    }

    private void Grow(int size)
    {
        _size += size;
        if (_size > MaxGrammarChars)
        {
            throw TooLong(_at);
        }
        if (_grammar.RuleCount > MaxRules)
        {
            throw TooComplex(_at, $"its grammar would have more than {MaxRules:N0} rules");
        }
        if ((++_nodes & 255) == 0)
        {
            _cancellationToken.ThrowIfCancellationRequested();
        }
    }

    private static UnsupportedSchemaException TooLong(string path) => TooComplex(path, $"its grammar would be longer than {MaxGrammarChars:N0} characters");

    private static UnsupportedSchemaException TooComplex(string path, string reason) =>
        new(null, path, reason, UnsupportedSchemaException.TooComplexCode);

    /// <summary>An expression matching exactly the JSON texts <paramref name="schema"/> accepts (followed by optional space).</summary>
    private GbnfExpr Visit(JsonElement schema, string path, string nameHint, int depth)
    {
        if (depth > MaxNesting)
        {
            throw TooComplex(path, $"schemas are nested more than {MaxNesting} deep");
        }
        RuntimeHelpers.EnsureSufficientExecutionStack();
        _at = path;
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

        var g = _grammar;
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
                    .Select((alternative, i) => Visit(alternative, $"{path}/{combinator}/{i}", $"{nameHint}-{i}", depth + 1))
                    .ToList();
                return options.Count == 0
                    ? throw new UnsupportedSchemaException(combinator, path, "it lists no schema")
                    : g.Add(nameHint, path, g.Choice(options));
            }
        }
        if (schema.TryGetProperty("allOf", out var allOf))
        {
            RequireNoSiblings(schema, path, "allOf");
            var parts = Items(allOf, $"{path}/allOf", "allOf").ToList();
            return parts.Count == 1
                ? Visit(parts[0], $"{path}/allOf/0", nameHint, depth + 1)
                : throw new UnsupportedSchemaException("allOf", path, "only a single schema in allOf can be enforced");
        }

        RequireKnownKeywords(schema, path);
        var nullable = schema.TryGetProperty("nullable", out var n) && n.ValueKind == JsonValueKind.True;

        if (schema.TryGetProperty("const", out var constant))
        {
            return Nullable(g.Add(nameHint, path, g.Sequence(g.Literal(JsonText(constant)), Primitive("space"))), nullable);
        }
        if (schema.TryGetProperty("enum", out var values))
        {
            var literals = Items(values, $"{path}/enum", "enum").Select(JsonText).Distinct(StringComparer.Ordinal).ToList();
            return literals.Count == 0
                ? throw new UnsupportedSchemaException("enum", path, "it lists no value")
                : Nullable(g.Add(nameHint, path, g.Sequence(g.Alternatives(literals), Primitive("space"))), nullable);
        }

        var types = Types(schema, path);
        if (nullable && !types.Contains("null"))
        {
            types.Add("null");
        }
        var typed = types.Select(type => VisitType(schema, type, path, types.Count > 1 ? $"{nameHint}-{type}" : nameHint, depth)).ToList();
        return typed.Count == 1 ? typed[0] : g.Add(nameHint, path, g.Choice(typed));
    }

    private GbnfExpr Nullable(GbnfExpr expression, bool nullable) => nullable ? _grammar.Choice(expression, Primitive("null")) : expression;

    private static List<string> Types(JsonElement schema, string path)
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

    private GbnfExpr VisitType(JsonElement schema, string type, string path, string nameHint, int depth) => type switch
    {
        "any" => Primitive("value"),
        "null" => Primitive("null"),
        "boolean" => Primitive("boolean"),
        "string" => StringRule(schema, path, nameHint),
        "integer" => IntegerRule(schema, path, nameHint),
        "number" => NumberRule(schema, path, nameHint),
        "object" => ObjectRule(schema, path, nameHint, depth),
        "array" => ArrayRule(schema, path, nameHint, depth),
        _ => throw new UnsupportedSchemaException("type", path, $"'{type}' is not a JSON Schema type"),
    };

    private GbnfExpr StringRule(JsonElement schema, string path, string nameHint)
    {
        var g = _grammar;
        var quote = g.Literal("\"");
        if (schema.TryGetProperty("format", out var format))
        {
            var formatted = (format.ValueKind == JsonValueKind.String ? format.GetString() : null) switch
            {
                "date" => Primitive("date"),
                "time" => Primitive("time"),
                "date-time" => g.Add("date-time", path, g.Sequence(Primitive("date"), g.Literal("T"), Primitive("time"))),
                "uuid" => Primitive("uuid"),
                var other => throw new UnsupportedSchemaException("format", path, $"the format '{other}' cannot be enforced (date, time, date-time and uuid can)"),
            };
            return g.Add($"{nameHint}-string", path, g.Sequence(quote, formatted, quote, Primitive("space")));
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
        var characters = g.Repeat(Primitive("char"), min ?? 0, max, "char", path);
        return g.Add($"{nameHint}-string", path, g.Sequence(quote, characters, quote, Primitive("space")));
    }

    private GbnfExpr IntegerRule(JsonElement schema, string path, string nameHint)
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
        var g = _grammar;
        return g.Add($"{nameHint}-integer", path, g.Sequence(g.Terminal(IntegerRange.Expression(min, max)), Primitive("space")));
    }

    // A number between whole bounds: its integer part in range (with any fraction), or the upper bound itself
    // (with zeros only), and no exponent.
    private GbnfExpr NumberRule(JsonElement schema, string path, string nameHint)
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
        var g = _grammar;
        var fraction = g.Optional(g.Sequence(g.Literal("."), Primitive("decimal-part")));
        var zeros = g.Optional(g.Terminal("\".\" \"0\"{1,16}"));
        var minus = g.Literal("-");
        var alternatives = new List<GbnfExpr>();
        // Magnitudes |x| in [lo, hi] written after the sign; hi null = unbounded.
        void Magnitude(GbnfExpr sign, decimal lo, decimal? hi)
        {
            if (hi is null)
            {
                alternatives.Add(g.Sequence(sign, g.Terminal(IntegerRange.Expression(lo, null)), fraction));
                return;
            }
            if (hi > lo)
            {
                alternatives.Add(g.Sequence(sign, g.Terminal(IntegerRange.Expression(lo, hi - 1)), fraction));
            }
            alternatives.Add(g.Sequence(sign, g.Literal(hi.Value.ToString(CultureInfo.InvariantCulture)), zeros));
        }
        // Negative numbers: the magnitude is bounded by -min (lower edge exact) and starts at -max when max < 0.
        if (min is null || min < 0)
        {
            Magnitude(minus, max < 0 ? -max.Value : 0, -min);
        }
        if (max is null || max >= 0)
        {
            Magnitude(GbnfExpr.Empty, min is null || min < 0 ? 0 : min.Value, max);
        }
        return g.Add($"{nameHint}-number", path, g.Sequence(g.Choice(alternatives), Primitive("space")));
    }

    private static (decimal? Min, decimal? Max) IntegerBounds(JsonElement schema, string path, bool wholeOnly)
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

    private GbnfExpr ObjectRule(JsonElement schema, string path, string nameHint, int depth)
    {
        var g = _grammar;
        var space = Primitive("space");
        var additional = schema.TryGetProperty("additionalProperties", out var a) ? a : (JsonElement?)null;
        if (!schema.TryGetProperty("properties", out var properties) || properties.ValueKind != JsonValueKind.Object || !properties.EnumerateObject().Any())
        {
            if (schema.TryGetProperty("required", out var required) && required.ValueKind == JsonValueKind.Array && required.GetArrayLength() > 0)
            {
                throw new UnsupportedSchemaException("required", path, "required properties must be declared in 'properties'");
            }
            return additional switch
            {
                null or { ValueKind: JsonValueKind.True } => Primitive("object"),
                { ValueKind: JsonValueKind.False } => g.Add($"{nameHint}-empty", path, g.Sequence(g.Literal("{"), space, g.Literal("}"), space)),
                // A map: any keys, each value following the additionalProperties schema.
                { } valueSchema => MapRule(Visit(valueSchema, $"{path}/additionalProperties", $"{nameHint}-value", depth + 1), path, nameHint),
            };
        }

        var requiredNames = schema.TryGetProperty("required", out var r)
            ? Items(r, $"{path}/required", "required").Select(name => name.ValueKind == JsonValueKind.String
                ? name.GetString()!
                : throw new UnsupportedSchemaException("required", path, "it must list strings")).ToHashSet(StringComparer.Ordinal)
            : [];
        var members = new List<(GbnfExpr Rule, bool Required)>();
        foreach (var property in properties.EnumerateObject())
        {
            var propertyPath = $"{path}/properties/{Escape(property.Name)}";
            var value = Visit(property.Value, propertyPath, property.Name, depth + 1);
            var member = g.Add($"{property.Name}-kv", propertyPath, g.Sequence(g.Literal(JsonText(property.Name)), space, g.Literal(":"), space, value));
            members.Add((member, requiredNames.Remove(property.Name)));
        }
        if (requiredNames.Count > 0)
        {
            throw new UnsupportedSchemaException("required", path, $"'{requiredNames.First()}' is required but not declared in 'properties'");
        }

        // Members in declaration order; optional ones may be left out. after[i]: members i.. once one was
        // written (each then starts with a comma); first[i]: members i.. when none was written yet. Each is a
        // rule of its own, so the grammar grows linearly with the number of properties.
        var comma = g.Literal(",");
        var after = new GbnfExpr[members.Count + 1];
        var first = new GbnfExpr[members.Count + 1];
        after[members.Count] = first[members.Count] = GbnfExpr.Empty;
        for (var i = members.Count - 1; i >= 0; i--)
        {
            var (member, isRequired) = members[i];
            var withComma = g.Sequence(comma, space, member);
            var tailEmpty = i == members.Count - 1;
            if (isRequired)
            {
                after[i] = g.Sequence(withComma, after[i + 1]);
                first[i] = g.Sequence(member, after[i + 1]);
            }
            else
            {
                after[i] = g.Sequence(g.Optional(withComma), after[i + 1]);
                first[i] = tailEmpty ? g.Optional(member) : g.Choice(g.Sequence(member, after[i + 1]), first[i + 1]);
            }
            if (i > 0)
            {
                after[i] = g.Add($"{nameHint}-after-{i}", path, after[i]);
                first[i] = g.Add($"{nameHint}-from-{i}", path, first[i]);
            }
        }
        return g.Add(nameHint, path, g.Sequence(g.Literal("{"), space, first[0], g.Literal("}"), space));
    }

    private GbnfExpr MapRule(GbnfExpr value, string path, string nameHint)
    {
        var g = _grammar;
        var space = Primitive("space");
        var entry = g.Add($"{nameHint}-entry", path, g.Sequence(Primitive("string"), g.Literal(":"), space, value));
        var more = g.Repeat(g.Sequence(g.Literal(","), space, entry), 0, null, $"{nameHint}-more", path);
        return g.Add(nameHint, path, g.Sequence(g.Literal("{"), space, g.Optional(g.Sequence(entry, more)), g.Literal("}"), space));
    }

    private GbnfExpr ArrayRule(JsonElement schema, string path, string nameHint, int depth)
    {
        var g = _grammar;
        var space = Primitive("space");
        var min = Count(schema, "minItems", path) ?? 0;
        var max = Count(schema, "maxItems", path);
        if (max < min)
        {
            throw new UnsupportedSchemaException("maxItems", path, "it is less than minItems, so no array fits");
        }
        var prefix = schema.TryGetProperty("prefixItems", out var p)
            ? Items(p, $"{path}/prefixItems", "prefixItems").Select((item, i) => Visit(item, $"{path}/prefixItems/{i}", $"{nameHint}-{i}", depth + 1)).ToList()
            : [];
        var items = schema.TryGetProperty("items", out var itemSchema)
            ? itemSchema.ValueKind == JsonValueKind.False ? null : Visit(itemSchema, $"{path}/items", $"{nameHint}-item", depth + 1)
            : Primitive("value");
        var open = g.Sequence(g.Literal("["), space);
        var close = g.Sequence(g.Literal("]"), space);
        // ", item", repeated: a rule of its own, so that counts of any size share its repetition rules.
        GbnfExpr More(GbnfExpr item, int from, int? to) => g.Repeat(g.Sequence(g.Literal(","), space, item), from, to, $"{nameHint}-more", path);

        if (prefix.Count == 0)
        {
            if (items is null)
            {
                return min > 0
                    ? throw new UnsupportedSchemaException("minItems", path, "items is false, so no array fits")
                    : g.Add(nameHint, path, g.Sequence(open, close));
            }
            var list = max == 0 ? GbnfExpr.Empty
                : min == 0 ? g.Optional(g.Sequence(items, More(items, 0, max - 1)))
                : g.Sequence(items, More(items, min - 1, max - 1));
            return g.Add(nameHint, path, g.Sequence(open, list, close));
        }

        // A tuple: the prefix items in order, then (when items allows) more items, within min/max. tail[i] is
        // what may follow once items 0..i-1 are written: a rule each, so the grammar is linear in the tuple's length.
        if (min > prefix.Count && items is null)
        {
            throw new UnsupportedSchemaException("minItems", path, "it asks for more items than prefixItems allows");
        }
        var count = max is { } m ? Math.Min(m, prefix.Count) : prefix.Count;
        var tail = count == prefix.Count && items is not null && (max is null || max > prefix.Count)
            ? More(items, Math.Max(0, min - prefix.Count), max - prefix.Count)
            : GbnfExpr.Empty;
        for (var i = count - 1; i >= 1; i--)
        {
            var next = g.Sequence(g.Literal(","), space, prefix[i], tail);
            tail = g.Add($"{nameHint}-from-{i}", path, i < min ? next : g.Optional(next));
        }
        var whole = count == 0 ? GbnfExpr.Empty : g.Sequence(prefix[0], tail);
        return g.Add(nameHint, path, g.Sequence(open, min == 0 && count > 0 ? g.Optional(whole) : whole, close));
    }

    private GbnfExpr Reference(JsonElement reference, string path)
    {
        var target = reference.ValueKind == JsonValueKind.String ? reference.GetString() : null;
        if (target is null || !target.StartsWith('#'))
        {
            throw new UnsupportedSchemaException("$ref", path, $"only references inside the schema (#/$defs/...) can be followed, not '{target}'");
        }
        if (_references.TryGetValue((_documentIndex, target), out var existing))
        {
            return existing;
        }
        var resolved = _document;
        var segments = target.TrimStart('#').Split('/', StringSplitOptions.RemoveEmptyEntries);
        var prefix = $"{_documentIndex}#";
        foreach (var segment in segments)
        {
            var key = Uri.UnescapeDataString(segment).Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);
            if (resolved.ValueKind != JsonValueKind.Object || !Member(prefix, resolved, key, out resolved))
            {
                throw new UnsupportedSchemaException("$ref", path, $"'{target}' does not point to a schema in this document");
            }
            prefix += "/" + segment;
        }
        // Named before its body is built (from the work list), so that a recursive schema refers to itself.
        var rule = _grammar.Declare(segments.Length > 0 ? "ref-" + segments[^1] : "ref-root", target);
        var name = new GbnfRef(rule);
        _references[(_documentIndex, target)] = name;
        _pendingReferences.Enqueue((rule, resolved, target));
        return name;
    }

    // JsonElement looks a property up by scanning the object: references into a large $defs use an index of it.
    private readonly Dictionary<string, Dictionary<string, JsonElement>> _indexes = new(StringComparer.Ordinal);

    private bool Member(string pointer, JsonElement container, string name, out JsonElement value)
    {
        if (!_indexes.TryGetValue(pointer, out var index))
        {
            if (container.GetPropertyCount() <= 16)
            {
                return container.TryGetProperty(name, out value);
            }
            index = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
            foreach (var property in container.EnumerateObject())
            {
                index.TryAdd(property.Name, property.Value);
            }
            _indexes[pointer] = index;
        }
        return index.TryGetValue(name, out value);
    }

    // The shared building blocks, added to a grammar only when a rule uses them.
    private GbnfRef Primitive(string name)
    {
        if (_primitives.TryGetValue(name, out var known))
        {
            return known;
        }
        var g = _grammar;
        var rule = g.DeclareNamed(name, "#");
        var reference = new GbnfRef(rule);
        _primitives[name] = reference;
        GbnfExpr body = name switch
        {
            "space" => g.Choice(GbnfExpr.Empty, g.Literal(" "), g.Sequence(g.Literal("\n"), g.Repeat(g.Terminal("[ \\t]"), 0, 20, "blank", "#"))),
            "boolean" => g.Sequence(g.Choice(g.Literal("true"), g.Literal("false")), Primitive("space")),
            "null" => g.Sequence(g.Literal("null"), Primitive("space")),
            // Surrogates are left out, raw and escaped: alone they are not text, and a length would count a pair twice.
            "char" => g.Choice(
                g.Terminal("""[^"\\\x7F\x00-\x1F\uD800-\uDFFF]"""),
                g.Terminal("""[\\] (["\\/bfnrt] | "u" ( [0-9a-cA-CeEfF] [0-9a-fA-F]{3} | [dD] [0-7] [0-9a-fA-F]{2} ))""")),
            "string" => g.Sequence(g.Literal("\""), g.Repeat(Primitive("char"), 0, null, "char", "#"), g.Literal("\""), Primitive("space")),
            "integral-part" => g.Terminal("[0] | [1-9] [0-9]{0,15}"),
            "decimal-part" => g.Terminal("[0-9]{1,16}"),
            "integer" => g.Sequence(g.Optional(g.Literal("-")), Primitive("integral-part"), Primitive("space")),
            "number" => g.Sequence(g.Optional(g.Literal("-")), Primitive("integral-part"),
                g.Optional(g.Sequence(g.Literal("."), Primitive("decimal-part"))),
                g.Optional(g.Terminal("[eE] [-+]? [0-9]{1,3}")), Primitive("space")),
            "value" => g.Choice(Primitive("object"), Primitive("array"), Primitive("string"), Primitive("number"), Primitive("boolean"), Primitive("null")),
            "object" => g.Sequence(g.Literal("{"), Primitive("space"),
                g.Optional(g.Sequence(Member(), g.Repeat(g.Sequence(g.Literal(","), Primitive("space"), Member()), 0, null, "object-more", "#"))),
                g.Literal("}"), Primitive("space")),
            "array" => g.Sequence(g.Literal("["), Primitive("space"),
                g.Optional(g.Sequence(Primitive("value"), g.Repeat(g.Sequence(g.Literal(","), Primitive("space"), Primitive("value")), 0, null, "array-more", "#"))),
                g.Literal("]"), Primitive("space")),
            // Years from 0001: year 0 is valid RFC 3339 text, but .NET's DateTime (and so many clients) cannot hold it.
            "date" => g.Terminal("""( [1-9] [0-9]{3} | "0" ( [1-9] [0-9]{2} | "0" ( [1-9] [0-9] | "0" [1-9] ) ) ) "-" ( ( "0" [13578] | "1" [02] ) "-" ( "0" [1-9] | [12] [0-9] | "3" [01] ) | ( "0" [469] | "11" ) "-" ( "0" [1-9] | [12] [0-9] | "30" ) | "02-" ( "0" [1-9] | "1" [0-9] | "2" [0-8] ) )"""),
            "time" => g.Terminal("""( [01] [0-9] | "2" [0-3] ) ":" [0-5] [0-9] ":" [0-5] [0-9] ( "." [0-9]{1,6} )? ( "Z" | [+-] ( [01] [0-9] | "2" [0-3] ) ":" [0-5] [0-9] )"""),
            "uuid" => g.Terminal("""[0-9a-fA-F]{8} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{12}"""),
            _ => throw new ArgumentOutOfRangeException(nameof(name), name, "No such building block."),
        };
        g.Define(rule, body);
        return reference;

        GbnfExpr Member() => g.Sequence(Primitive("string"), g.Literal(":"), Primitive("space"), Primitive("value"));
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

    private static int? Count(JsonElement schema, string keyword, string path)
    {
        if (!schema.TryGetProperty(keyword, out var value))
        {
            return null;
        }
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetDecimal(out var count) || count < 0 || count != decimal.Truncate(count))
        {
            throw new UnsupportedSchemaException(keyword, path, "it must be a non-negative integer");
        }
        return count <= MaxCount
            ? (int)count
            : throw new UnsupportedSchemaException(keyword, path, $"it is above {MaxCount:N0}, the largest length or count a grammar enforces", UnsupportedSchemaException.TooComplexCode);
    }

    // A JSON pointer segment (RFC 6901).
    private static string Escape(string name) => name.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal);

    private static readonly JavaScriptEncoder Relaxed = JavaScriptEncoder.UnsafeRelaxedJsonEscaping;

    /// <summary>The compact JSON text of a value (as the model must write it).</summary>
    private static string JsonText(JsonElement value)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = Relaxed }))
        {
            value.WriteTo(writer);
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static string JsonText(string value) => "\"" + JsonEncodedText.Encode(value, Relaxed) + "\"";
}

/// <summary>
/// A schema the embedded engine cannot turn into a grammar: a keyword (<see cref="Keyword"/>; null when the
/// schema as a whole is at fault) at <see cref="SchemaPath"/> that a grammar cannot enforce, a value beyond the
/// converter's limits, or a recursion that can never end. <see cref="Code"/> is the API error code.
/// </summary>
internal sealed class UnsupportedSchemaException(string? keyword, string schemaPath, string reason, string code = UnsupportedSchemaException.KeywordCode, string? function = null)
    : Exception(keyword is null
        ? $"The JSON Schema at '{schemaPath}' cannot be enforced: {reason}."
        : $"The JSON Schema keyword '{keyword}' at '{schemaPath}' cannot be enforced: {reason}.")
{
    /// <summary>A keyword (or a value of one) that no grammar holds.</summary>
    public const string KeywordCode = "unsupported_schema_keyword";

    /// <summary>A size or count beyond the converter's limits.</summary>
    public const string TooComplexCode = "schema_too_complex";

    /// <summary>A recursion no value can satisfy, or one llama.cpp cannot run.</summary>
    public const string NeverEndsCode = "invalid_schema";

    public string? Keyword { get; } = keyword;

    public string SchemaPath { get; } = schemaPath;

    public string Reason { get; } = reason;

    public string Code { get; } = code;

    /// <summary>The function whose parameters hold the schema, for a tool call's grammar.</summary>
    public string? Function { get; } = function;

    /// <summary>The same refusal, in the parameters of <paramref name="function"/>.</summary>
    public UnsupportedSchemaException In(string function) => new(Keyword, SchemaPath, Reason, Code, function);
}
