using System.Net;
using System.Text;
using System.Text.Json;
using LlmStack.Api.Backends.Embedded;
using LlmStack.Api.Configuration;
using LlmStack.Api.Limits;
using LlmStack.Api.Pipeline;
using LlmStack.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;

namespace LlmStack.Tests.Api;

/// <summary>
/// A structured request's grammar is decided on the request thread before the request takes a slot: with the model's
/// only slot taken and no queue, a schema that has no grammar is still a 400 naming its place (it never asked for the
/// slot), while a schema that compiles needs the slot like any request (503 here); once the slot is free, the grammar
/// prepared before admission is the one the reply follows.
/// </summary>
public sealed class SchemaAdmissionTests(GeneratedModels models) : IAsyncDisposable
{
    private const string Cycle = """{"$ref":"#/$defs/a","$defs":{"a":{"$ref":"#/$defs/b"},"b":{"$ref":"#/$defs/a"}}}""";
    private const string Choice = """{"enum":["north","south"]}""";

    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private readonly ApiApplication _app = new([new ModelOptions
    {
        Id = "random",
        Backend = EmbeddedBackend.BackendName,
        Path = models.RandomAscii,
        MaxConcurrentRequests = 1,
        MaxQueue = 0,
    }]);

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("/v1/chat/completions")]
    [InlineData("/v1/responses")]
    public async Task Schema_without_a_grammar_is_a_400_while_the_only_slot_is_taken(string path)
    {
        using var client = _app.CreateClient();
        var gate = Gate();

        using (await gate.EnterAsync(null, Cancel).AsTask().WaitAsync(Bound, Cancel))
        {
            using var refused = await PostAsync(client, path, Cycle).WaitAsync(Bound, Cancel);
            using var waiting = await PostAsync(client, path, Choice).WaitAsync(Bound, Cancel);

            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            var error = await ErrorEnvelope.ReadAsync(refused);
            Assert.Equal(("invalid_request_error", "invalid_schema"), (error.Type, error.Code));
            Assert.StartsWith(path == "/v1/responses" ? "text.format.schema" : "response_format.json_schema.schema", error.Param);
            // The same moment, a schema that compiles needs the slot: the refusal above did not come from the gate.
            Assert.Equal(HttpStatusCode.ServiceUnavailable, waiting.StatusCode);
            Assert.Equal("model_overloaded", (await ErrorEnvelope.ReadAsync(waiting)).Code);
            Assert.Equal(1, gate.Admitted);
        }

        using var answered = await PostAsync(client, path, Choice).WaitAsync(Bound, Cancel);
        var body = await answered.Content.ReadAsStringAsync(Cancel);
        Assert.True(answered.StatusCode == HttpStatusCode.OK, body);
        using var reply = JsonDocument.Parse(ReplyText(path, body));
        Assert.Contains(reply.RootElement.GetString(), new[] { "north", "south" });
        Assert.Equal(0, gate.Admitted);
    }

    [Fact]
    public async Task A_key_that_cannot_afford_the_request_is_refused_before_its_schema_is_converted_and_a_refusal_costs_nothing()
    {
        var settings = Access.ApiKeyTests.Keys((Access.ApiKeyTests.Key, "alice"));
        settings["LlmStack:Auth:Keys:0:TokensPerMinute"] = "100";
        await using var app = new ApiApplication([new ModelOptions { Id = "random", Backend = EmbeddedBackend.BackendName, Path = models.RandomAscii }], settings);
        using var client = app.CreateClient();
        client.DefaultRequestHeaders.Authorization = new("Bearer", Access.ApiKeyTests.Key);

        // 90 output tokens and the prompt fit the 100 only if each refusal gave its reservation back.
        for (var i = 0; i < 3; i++)
        {
            using var refused = await PostAsync(client, "/v1/chat/completions", Cycle, maxTokens: 90).WaitAsync(Bound, Cancel);
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            Assert.Equal("invalid_schema", (await ErrorEnvelope.ReadAsync(refused)).Code);
        }
        // A reply spends a few tokens (the clock runs, but a minute refills 100 at under 2 a second); then the same refusal
        // no longer fits what is left: the 429 comes before the conversion that would have found the cycle.
        using var answered = await PostAsync(client, "/v1/chat/completions", Choice, maxTokens: 20).WaitAsync(Bound, Cancel);
        Assert.Equal(HttpStatusCode.OK, answered.StatusCode);
        using var unaffordable = await PostAsync(client, "/v1/chat/completions", Cycle, maxTokens: 90).WaitAsync(Bound, Cancel);
        Assert.Equal(HttpStatusCode.TooManyRequests, unaffordable.StatusCode);
        Assert.Equal("rate_limit_exceeded", (await ErrorEnvelope.ReadAsync(unaffordable)).Code);
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    private AdmissionGate Gate()
    {
        var catalog = _app.Services.GetRequiredService<ModelCatalog>();
        Assert.True(catalog.TryGet("random", out var pipeline));
        return _app.Services.GetRequiredService<ModelAdmission>().For(pipeline.Model);
    }

    private static Task<HttpResponseMessage> PostAsync(HttpClient client, string path, string schema, int maxTokens = 50) =>
        client.PostAsync(path, new StringContent(path == "/v1/responses"
            ? """{"model":"random","input":"Which way?","max_output_tokens":""" + maxTokens + ""","text":{"format":{"type":"json_schema","name":"way","strict":true,"schema":""" + schema + "}}}"
            : """{"model":"random","messages":[{"role":"user","content":"Which way?"}],"max_tokens":""" + maxTokens + ""","response_format":{"type":"json_schema","json_schema":{"name":"way","strict":true,"schema":""" + schema + "}}}",
            Encoding.UTF8, "application/json"), Cancel);

    private static string ReplyText(string path, string body)
    {
        using var json = JsonDocument.Parse(body);
        return path == "/v1/responses"
            ? json.RootElement.GetProperty("output")[0].GetProperty("content")[0].GetProperty("text").GetString()!
            : json.RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;
    }
}
