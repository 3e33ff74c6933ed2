extern alias bench;

using System.Text;
using System.Text.Json;
using bench::LlmStack.Benchmarks.Schemas;
using LLama.Native;
using LlmStack.Api.Backends.Embedded;
using LlmStack.Tests.Fixtures;

namespace LlmStack.Tests.Backends.Embedded;

/// <summary>
/// The schema converter against hostile schemas: every schema becomes a grammar that llama.cpp itself parses, or is
/// refused naming where and why; recursions that cannot end are refused while those that can work; counts past
/// llama.cpp's repetition limit of 2000 hold exactly (checked by feeding text to llama.cpp's own grammar sampler).
/// </summary>
public sealed class SchemaGrammarLimitsTests(GeneratedModels models) : IDisposable
{
    private readonly LoadedModel _model = LoadedModel.Load(models.Random);

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    public static TheoryData<string> Corpus => [.. HostileSchemas.All.Select(s => s.Name)];

    [Theory]
    [MemberData(nameof(Corpus))]
    public void Corpus_schema_becomes_a_grammar_llama_cpp_parses_or_is_refused(string name)
    {
        var schema = HostileSchemas.All.Single(s => s.Name == name);
        using var document = JsonDocument.Parse(schema.Json);

        string gbnf;
        try
        {
            gbnf = JsonSchemaGrammar.FromSchema(document.RootElement, Cancel);
        }
        catch (UnsupportedSchemaException ex)
        {
            // Refused by the converter: only what the corpus expects refused, with a place and a reason.
            Assert.True(schema.IsRefused, $"{schema.Name} was refused: {ex.Message}");
            Assert.StartsWith("#", ex.SchemaPath);
            Assert.False(string.IsNullOrWhiteSpace(ex.Reason));
            if (schema.RefusalCode == HostileSchemas.NeverEnds)
            {
                Assert.Equal(UnsupportedSchemaException.NeverEndsCode, ex.Code);
            }
            return;
        }

        // Accepted: llama.cpp parses it (the API's own limits refuse the rest of the corpus before conversion).
        Assert.True(schema.RefusalCode is null or HostileSchemas.TooComplex, $"{schema.Name} should have been refused by the converter");
        using var grammar = ParsedGrammar.Parse(_model.Host.Weights.NativeHandle, gbnf);
        Assert.True(gbnf.Length <= JsonSchemaGrammar.MaxGrammarChars);
    }

    [Theory]
    [InlineData(999)]
    [InlineData(1000)]
    [InlineData(1001)]
    [InlineData(1999)]
    [InlineData(2000)]
    [InlineData(2001)]
    [InlineData(10_000)]
    public void String_lengths_past_llama_cpp_repetition_limit_hold_exactly(int length)
    {
        using var exactly = Grammar($$"""{"type":"string","minLength":{{length}},"maxLength":{{length}}}""");
        using var atMost = Grammar($$"""{"type":"string","maxLength":{{length}}}""");
        using var atLeast = Grammar($$"""{"type":"string","minLength":{{length}}}""");

        Assert.True(Accepts(exactly, Quoted(length)));
        Assert.False(Accepts(exactly, Quoted(length - 1)));
        Assert.False(Accepts(exactly, Quoted(length + 1)));
        Assert.True(Accepts(atMost, Quoted(0)) && Accepts(atMost, Quoted(length)));
        Assert.False(Accepts(atMost, Quoted(length + 1)));
        Assert.True(Accepts(atLeast, Quoted(length)) && Accepts(atLeast, Quoted(length + 7)));
        Assert.False(Accepts(atLeast, Quoted(length - 1)));
    }

    [Theory]
    [InlineData(1, 2001)]
    [InlineData(2001, 2001)]
    [InlineData(1500, 3500)]
    public void Item_counts_past_llama_cpp_repetition_limit_hold_exactly(int min, int max)
    {
        using var grammar = Grammar($$"""{"type":"array","items":{"type":"integer","minimum":0,"maximum":9},"minItems":{{min}},"maxItems":{{max}}}""");

        Assert.True(Accepts(grammar, Digits(min)));
        Assert.True(Accepts(grammar, Digits(max)));
        Assert.False(Accepts(grammar, Digits(min - 1)));
        Assert.False(Accepts(grammar, Digits(max + 1)));
    }

    [Fact]
    public void Tuple_items_are_written_in_order_within_min_and_max_items()
    {
        using var grammar = Grammar("""{"type":"array","prefixItems":[{"const":1},{"const":2},{"const":3}],"items":{"const":0},"minItems":2,"maxItems":5}""");

        Assert.True(Accepts(grammar, "[1,2]"));
        Assert.True(Accepts(grammar, "[1,2,3,0,0]"));
        Assert.False(Accepts(grammar, "[1]"));
        Assert.False(Accepts(grammar, "[2,1]"));
        Assert.False(Accepts(grammar, "[1,2,3,0,0,0]"));
    }

    [Fact]
    public void Enum_values_sharing_prefixes_are_each_accepted_and_nothing_else()
    {
        string[] values = ["value-1", "value-10", "value-100", "value-2", "valuable", "ключ", "🙂", "🙃", ""];
        using var grammar = Grammar(JsonSerializer.Serialize(new { @enum = values }));

        Assert.All(values, value => Assert.True(Accepts(grammar, JsonSerializer.Serialize(value, Unescaped)), value));
        Assert.False(Accepts(grammar, "\"value-\""));
        Assert.False(Accepts(grammar, "\"value-1000\""));
        Assert.False(Accepts(grammar, "\"val\""));
    }

    [Fact]
    public void Recursive_tree_with_optional_children_compiles_and_takes_nested_values()
    {
        using var grammar = Grammar("""
            {"$ref":"#/$defs/node","$defs":{"node":{"type":"object","properties":{
              "name":{"type":"string","maxLength":6},"children":{"type":"array","items":{"$ref":"#/$defs/node"}}},
             "required":["name"],"additionalProperties":false}}}
            """);

        Assert.True(Accepts(grammar, """{"name":"a","children":[{"name":"b"},{"name":"c","children":[{"name":"d","children":[]}]}]}"""));
        Assert.False(Accepts(grammar, """{"children":[]}"""));
    }

    [Theory]
    [InlineData("""{"$ref":"#/$defs/a","$defs":{"a":{"$ref":"#/$defs/b"},"b":{"$ref":"#/$defs/a"}}}""", "#")]
    [InlineData("""{"$ref":"#/$defs/a","$defs":{"a":{"type":"object","properties":{"b":{"$ref":"#/$defs/b"}},"required":["b"]},"b":{"type":"array","items":{"$ref":"#/$defs/a"},"minItems":1}}}""", "#")]
    [InlineData("""{"type":"object","properties":{"x":{"$ref":"#/$defs/a"}},"$defs":{"a":{"anyOf":[{"type":"integer"},{"$ref":"#/$defs/a"}]}}}""", "#/$defs/a")]
    public void Recursion_that_cannot_end_or_writes_nothing_in_between_is_refused(string schema, string path)
    {
        using var document = JsonDocument.Parse(schema);

        var error = Assert.Throws<UnsupportedSchemaException>(() => JsonSchemaGrammar.FromSchema(document.RootElement, Cancel));

        Assert.Equal(UnsupportedSchemaException.NeverEndsCode, error.Code);
        Assert.StartsWith(path, error.SchemaPath);
    }

    [Fact]
    public void Thousands_of_properties_with_colliding_names_get_short_unique_rule_names()
    {
        var schema = "{\"type\":\"object\",\"properties\":{" + string.Join(",", Enumerable.Range(0, 1_000)
            .Select(i => JsonSerializer.Serialize(new string('.', 1 + i % 5) + i) + ":{\"type\":\"integer\"}")) + "}}";
        using var document = JsonDocument.Parse(schema);

        var gbnf = JsonSchemaGrammar.FromSchema(document.RootElement, Cancel);

        var rules = gbnf.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => line[..line.IndexOf(" ::= ", StringComparison.Ordinal)]).ToList();
        Assert.Equal(rules.Count, rules.Distinct().Count());
        Assert.All(rules, name => Assert.InRange(name.Length, 1, 40));
    }

    [Fact]
    public void Conversion_stops_when_the_request_is_cancelled()
    {
        using var document = JsonDocument.Parse(HostileSchemas.All.Single(s => s.Name.StartsWith("5,000 optional properties", StringComparison.Ordinal)).Json);

        Assert.ThrowsAny<OperationCanceledException>(() => JsonSchemaGrammar.FromSchema(document.RootElement, new CancellationToken(canceled: true)));
    }

    [Fact]
    public void Grammar_past_the_rule_limit_is_refused_not_built()
    {
        // Each array's items differ, so each needs its own rules for a count past 1000: the third passes the limit,
        // in a grammar far shorter than the character limit.
        var schema = "{\"type\":\"object\",\"properties\":{" + string.Join(",", Enumerable.Range(0, 10)
            .Select(i => $"\"p{i}\":{{\"type\":\"array\",\"items\":{{\"type\":\"object\",\"properties\":{{\"v{i}\":{{\"type\":\"integer\"}}}}}},\"maxItems\":3000}}")) + "}}";
        using var document = JsonDocument.Parse(schema);

        var error = Assert.Throws<UnsupportedSchemaException>(() => JsonSchemaGrammar.FromSchema(document.RootElement, Cancel));

        Assert.Equal(UnsupportedSchemaException.TooComplexCode, error.Code);
        Assert.Contains("rules", error.Reason);
    }

    public void Dispose() => _model.Dispose();

    private static readonly JsonSerializerOptions Unescaped = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static string Quoted(int length) => "\"" + new string('a', length) + "\"";

    private static string Digits(int count) => "[" + string.Join(",", Enumerable.Repeat("7", count)) + "]";

    private ParsedGrammar Grammar(string schema)
    {
        using var document = JsonDocument.Parse(schema);
        return ParsedGrammar.Parse(_model.Host.Weights.NativeHandle, JsonSchemaGrammar.FromSchema(document.RootElement, Cancel));
    }

    // Whether llama.cpp's grammar takes the text token by token and may then end.
    private bool Accepts(ParsedGrammar grammar, string text)
    {
        grammar.Sampler.Reset();
        var weights = _model.Host.Weights;
        foreach (var token in weights.Tokenize(text, false, false, Encoding.UTF8))
        {
            if (!Allows(grammar, token))
            {
                return false;
            }
            grammar.Sampler.Accept(token);
        }
        return Allows(grammar, weights.Vocab.EOS!.Value);
    }

    private static bool Allows(ParsedGrammar grammar, LLamaToken token)
    {
        var candidate = new[] { new LLamaTokenData(token, 1, 0) };
        using (LLamaTokenDataArrayNative.Create(new LLamaTokenDataArray(candidate, true), out var native))
        {
            grammar.Sampler.Apply(ref native);
            return !float.IsNegativeInfinity(native.Data[0].Logit);
        }
    }
}
