using System.Net;
using System.Text;
using System.Text.Json;
using Json.Schema;
using LlmStack.Api.Backends.Embedded;
using LlmStack.Api.Configuration;
using LlmStack.Api.Pipeline;
using LlmStack.Tests.Fixtures;

namespace LlmStack.Tests.Api;

/// <summary><c>response_format: json_schema</c> and strict tools on /v1/chat/completions, over HTTP, on the embedded engine.</summary>
public sealed class StructuredOutputTests(GeneratedModels models) : IAsyncDisposable
{
    private const string Schema = """
        {"type":"object","properties":{"city":{"type":"string","maxLength":8},"unit":{"enum":["c","f"]},"days":{"type":"integer","minimum":1,"maximum":7}},
         "required":["city","unit","days"],"additionalProperties":false}
        """;

    private const string PatternSchema = """{"type":"object","properties":{"zip":{"type":"string","pattern":"^[0-9]{5}$"}},"required":["zip"],"additionalProperties":false}""";

    private readonly ApiApplication _app = new([new ModelOptions { Id = "random", Backend = EmbeddedBackend.BackendName, Path = models.RandomAscii }]);

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Json_schema_reply_validates_against_the_schema()
    {
        using var client = _app.CreateClient();

        using var response = await PostAsync(client, """
            {"model":"random","messages":[{"role":"user","content":"Weather?"}],"seed":5,"max_tokens":3000,
             "response_format":{"type":"json_schema","json_schema":{"name":"forecast","strict":true,"schema":SCHEMA}}}
            """.Replace("SCHEMA", Schema, StringComparison.Ordinal));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Cancel));
        var content = body.RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;
        using var reply = JsonDocument.Parse(content);
        Assert.True(JsonSchema.FromText(Schema).Evaluate(reply.RootElement).IsValid, content);
    }

    [Fact]
    public async Task Strict_schema_with_a_keyword_no_grammar_holds_is_a_400_naming_it()
    {
        using var client = _app.CreateClient();

        using var response = await PostAsync(client, """
            {"model":"random","messages":[{"role":"user","content":"Zip?"}],
             "response_format":{"type":"json_schema","json_schema":{"name":"zip","strict":true,"schema":SCHEMA}}}
            """.Replace("SCHEMA", PatternSchema, StringComparison.Ordinal));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = await ErrorEnvelope.ReadAsync(response);
        Assert.Equal("invalid_request_error", error.Type);
        Assert.Equal("unsupported_schema_keyword", error.Code);
        Assert.Contains("'pattern'", error.Message);
        Assert.Contains("#/properties/zip", error.Message);
    }

    [Fact]
    public async Task Strict_tool_with_a_keyword_no_grammar_holds_is_a_400_naming_it()
    {
        using var client = _app.CreateClient();

        using var response = await PostAsync(client, """
            {"model":"random","messages":[{"role":"user","content":"Zip?"}],"tool_choice":"required",
             "tools":[{"type":"function","function":{"name":"lookup","strict":true,"parameters":SCHEMA}}]}
            """.Replace("SCHEMA", PatternSchema, StringComparison.Ordinal));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = await ErrorEnvelope.ReadAsync(response);
        Assert.Equal("unsupported_schema_keyword", error.Code);
        Assert.Contains("'pattern'", error.Message);
        Assert.Contains("'lookup'", error.Message);
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    private static Task<HttpResponseMessage> PostAsync(HttpClient client, string json) =>
        client.PostAsync("/v1/chat/completions", new StringContent(json, Encoding.UTF8, "application/json"), Cancel);
}
