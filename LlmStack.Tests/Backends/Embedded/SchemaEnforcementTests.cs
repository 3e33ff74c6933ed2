using System.Text.Json;
using LlmStack.Api.Backends;
using LlmStack.Api.Backends.Embedded;
using LlmStack.Api.Configuration;
using LlmStack.Api.Endpoints;
using LlmStack.Api.Errors;
using LlmStack.Api.Pipeline;
using LlmStack.Tests.Fixtures;
using Microsoft.Extensions.AI;

namespace LlmStack.Tests.Backends.Embedded;

/// <summary>
/// JSON Schema enforced by grammar: a random-weight model, which would write anything (byte tokens included, so
/// malformed UTF-8 unless sampling refuses it), writes only JSON that validates against the schema as a client decodes
/// it - checked by an independent validator (JsonSchema.Net) on 100 replies each. Free strings in these schemas have a
/// maxLength: a random model closes an unbounded string only by chance.
/// </summary>
public sealed class SchemaEnforcementTests(GeneratedModels models)
{
    private const int Replies = 100;
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    public static TheoryData<string, string> Schemas => new()
    {
        {
            "nested objects, enums, bounded strings and arrays, optional members",
            """
            {"type":"object","properties":{
              "name":{"type":"string","minLength":1,"maxLength":12},
              "age":{"type":"integer","minimum":0,"maximum":130},
              "role":{"enum":["admin","user","guest"]},
              "nickname":{"type":"string","maxLength":4},
              "address":{"type":"object","properties":{
                "city":{"type":"string","maxLength":10},
                "id":{"type":"string","format":"uuid"},
                "floor":{"type":"integer"}},
                "required":["city"],"additionalProperties":false},
              "tags":{"type":"array","items":{"type":"string","maxLength":6},"minItems":1,"maxItems":3}},
             "required":["name","age","role","address","tags"],"additionalProperties":false}
            """
        },
        {
            "anyOf, nullable types, bounded numbers, formats",
            """
            {"type":"object","properties":{
              "value":{"anyOf":[{"type":"integer","minimum":-50,"maximum":-7},{"type":"string","maxLength":5},{"type":"null"}]},
              "score":{"type":"number","minimum":-1,"maximum":1},
              "big":{"type":"integer","exclusiveMinimum":99,"exclusiveMaximum":12345},
              "ok":{"type":"boolean"},
              "note":{"type":["string","null"],"maxLength":8},
              "when":{"type":"string","format":"date-time"},
              "day":{"type":"string","format":"date"}},
             "required":["value","score","big","ok","note","when","day"],"additionalProperties":false}
            """
        },
        {
            "$ref into $defs, arrays of references, const",
            """
            {"type":"object","properties":{
              "kind":{"const":"route"},
              "from":{"$ref":"#/$defs/point"},
              "to":{"$ref":"#/$defs/point"},
              "via":{"type":"array","items":{"$ref":"#/$defs/point"},"maxItems":3}},
             "required":["kind","from","to","via"],"additionalProperties":false,
             "$defs":{"point":{"type":"object","properties":{
               "x":{"type":"integer","minimum":0,"maximum":99},
               "y":{"type":"integer","minimum":-1000,"maximum":1000},
               "label":{"enum":["a","b",null]}},
              "required":["x","y"],"additionalProperties":false}}}
            """
        },
        {
            "oneOf of tagged objects, tuples, empty objects",
            """
            {"oneOf":[
              {"type":"object","properties":{"kind":{"const":"circle"},"r":{"type":"number","minimum":0,"maximum":10}},"required":["kind","r"],"additionalProperties":false},
              {"type":"object","properties":{"kind":{"const":"rect"},
                "size":{"type":"array","prefixItems":[{"type":"integer","minimum":1,"maximum":9},{"type":"integer","minimum":1,"maximum":9}],"items":false,"minItems":2},
                "extra":{"type":"object","properties":{},"additionalProperties":false}},
               "required":["kind","size","extra"],"additionalProperties":false}]}
            """
        },
    };

    [Theory]
    [MemberData(nameof(Schemas))]
    public async Task Every_reply_of_a_random_model_validates_against_the_schema(string description, string schemaText)
    {
        using var schemaJson = JsonDocument.Parse(schemaText);
        using var host = LoadRandom();
        var client = new EmbeddedChatClient(host);

        for (var i = 0; i < Replies; i++)
        {
            var options = new ChatOptions
            {
                ResponseFormat = ChatResponseFormat.ForJsonSchema(schemaJson.RootElement, "answer"),
                AdditionalProperties = new() { [LlmStackChatOptions.StrictKey] = true },
                Seed = i,
                MaxOutputTokens = 3000,
            };
            var response = await client.GetResponseAsync("Answer in JSON", options, Cancel).WaitAsync(Timeout, Cancel);

            Assert.True(response.FinishReason == ChatFinishReason.Stop, $"{description}: reply {i} was cut off: {response.Text}");
            AssertValid(schemaText, response.Text, $"{description}: reply {i}");
        }
    }

    [Fact]
    public async Task Required_tool_call_arguments_follow_the_function_parameters()
    {
        const string parameters = """
            {"type":"object","properties":{
              "city":{"type":"string","minLength":2,"maxLength":10},
              "unit":{"enum":["celsius","fahrenheit"]},
              "days":{"type":"integer","minimum":1,"maximum":7}},
             "required":["city","unit","days"],"additionalProperties":false}
            """;
        using var schema = JsonDocument.Parse(parameters);
        using var host = LoadRandom();
        var client = new EmbeddedChatClient(host);

        for (var i = 0; i < Replies; i++)
        {
            var options = new ChatOptions
            {
                Tools = [new ToolDeclaration("get_forecast", null, schema.RootElement, strict: true), AIFunctionFactory.Create((int n) => "", "roll_dice")],
                ToolMode = ChatToolMode.RequireSpecific("get_forecast"),
                Seed = i,
                MaxOutputTokens = 3000,
            };
            var response = await client.GetResponseAsync("Forecast?", options, Cancel).WaitAsync(Timeout, Cancel);

            var call = Assert.Single(response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>());
            Assert.Equal("get_forecast", call.Name);
            AssertValid(parameters, JsonSerializer.Serialize(call.Arguments, AIJsonUtilities.DefaultOptions), $"call {i}");
        }
    }

    [Theory]
    [InlineData("""{"type":"object","properties":{"zip":{"type":"string","pattern":"^[0-9]{5}$"}},"required":["zip"]}""", "pattern", "#/properties/zip")]
    [InlineData("""{"type":"array","items":{"type":"integer"},"uniqueItems":true}""", "uniqueItems", "#")]
    [InlineData("""{"type":"number","multipleOf":0.5}""", "multipleOf", "#")]
    [InlineData("""{"type":"string","format":"email"}""", "format", "#")]
    [InlineData("""{"type":"number","minimum":0.5}""", "minimum", "#")]
    [InlineData("""{"$ref":"https://example.com/schema.json"}""", "$ref", "#")]
    public void Keyword_a_grammar_cannot_hold_is_named_with_its_place(string schema, string keyword, string path)
    {
        using var json = JsonDocument.Parse(schema);

        var error = Assert.Throws<UnsupportedSchemaException>(() => JsonSchemaGrammar.FromSchema(json.RootElement, Cancel));

        Assert.Equal(keyword, error.Keyword);
        Assert.Equal(path, error.SchemaPath);
    }

    [Fact]
    public async Task Strict_schema_with_an_unenforceable_keyword_is_refused_and_a_lax_one_is_still_json()
    {
        using var schema = JsonDocument.Parse("""{"type":"object","properties":{"zip":{"type":"string","pattern":"^[0-9]{5}$"}},"required":["zip"]}""");
        using var host = LoadRandom();
        var client = new EmbeddedChatClient(host);
        var format = ChatResponseFormat.ForJsonSchema(schema.RootElement, "address");

        var error = await Assert.ThrowsAsync<ApiErrorException>(() => client.GetResponseAsync("Zip?",
            new ChatOptions { ResponseFormat = format, AdditionalProperties = new() { [LlmStackChatOptions.StrictKey] = true } }, Cancel));
        var lax = await client.GetResponseAsync("Zip?", new ChatOptions { ResponseFormat = format, Seed = 3, MaxOutputTokens = 3000 }, Cancel).WaitAsync(Timeout, Cancel);

        Assert.Equal(400, error.StatusCode);
        Assert.Contains("'pattern'", error.Message);
        Assert.Contains("#/properties/zip", error.Message);
        using var json = JsonDocument.Parse(lax.Text);
        Assert.Equal(JsonValueKind.Object, json.RootElement.ValueKind);
    }

    private static void AssertValid(string schema, string text, string what)
    {
        if (ReplyValidation.Problem(schema, text) is { } problem)
        {
            Assert.Fail($"{what}: {problem}: {text}");
        }
    }

    private EmbeddedModelHost LoadRandom() => EmbeddedModelHost.Load(new ModelOptions
    {
        Id = "random",
        Backend = EmbeddedBackend.BackendName,
        Path = models.Random,
        Embedded = new() { ContextSize = 4096 },
    });
}
