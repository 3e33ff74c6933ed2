extern alias bench;

using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using bench::LlmStack.Benchmarks.Schemas;
using LlmStack.Api.Backends.Embedded;
using LlmStack.Api.Configuration;
using LlmStack.Api.Pipeline;
using LlmStack.Tests.Fixtures;

namespace LlmStack.Tests.Api;

/// <summary>
/// The hostile schema corpus (<see cref="HostileSchemas"/>) sent over HTTP to the embedded engine while other streams
/// generate on the same model: each is a 400 in OpenAI's envelope naming the place in the schema and the reason, or a
/// reply that validates against the schema, within a bound; the streams beside it complete; the server (this process)
/// lives on.
/// </summary>
public sealed class HostileSchemaTests(GeneratedModels models) : IAsyncDisposable
{
    /// <summary>The longest a refusal may take: the schema is checked before it is admitted.</summary>
    private static readonly TimeSpan RefusalBound = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The longest a reply may take, its thousands of tokens of grammar-bound sampling included (the longest, 2,001
    /// array items and the whitespace a random model puts between them, took 3.5 min on a 2-core machine shared by
    /// ~8 builds, and over 5 min at a load average of 30: the bound catches a stalled server, it is not a measurement).
    /// </summary>
    private static readonly TimeSpan ReplyBound = TimeSpan.FromMinutes(10);

    private const int OtherStreams = 2;

    private readonly ApiApplication _app = new([new ModelOptions
    {
        Id = "random",
        Backend = EmbeddedBackend.BackendName,
        // Byte-level random weights: any byte sequence is a candidate, so only the grammar (and the UTF-8 check) makes replies valid.
        Path = models.Random,
        Embedded = new() { ContextSize = 16_384, ParallelSlots = 4 },
    }]);

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    public static TheoryData<string> Corpus => [.. HostileSchemas.All.Select(s => s.Name)];

    [Theory]
    [MemberData(nameof(Corpus))]
    public async Task Hostile_schema_is_a_400_naming_its_place_or_a_valid_reply_while_other_streams_generate(string name)
    {
        var schema = HostileSchemas.All.Single(s => s.Name == name);
        using var client = new HttpClient { BaseAddress = _app.BaseAddress, Timeout = ReplyBound };
        var streams = new List<Task<string>>();
        for (var i = 0; i < OtherStreams; i++)
        {
            streams.Add(await StartStreamAsync(client, i));
        }

        var clock = Stopwatch.StartNew();
        using var response = await client.PostAsync("/v1/chat/completions", Json($$"""
            {"model":"random","messages":[{"role":"user","content":"Answer in JSON."}],"seed":1,"max_tokens":{{schema.MaxTokens}},
             "response_format":{"type":"json_schema","json_schema":{"name":"hostile","strict":true,"schema":
            """ + schema.Json + "}}}"), Cancel);
        var body = await response.Content.ReadAsStringAsync(Cancel);
        var elapsed = clock.Elapsed;

        if (schema.IsRefused)
        {
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{name}: {(int)response.StatusCode} {Shorten(body)}");
            var error = ErrorEnvelope.Parse(body);
            Assert.Equal(("invalid_request_error", schema.RefusalCode), (error.Type, error.Code));
            Assert.NotNull(error.Param);
            Assert.StartsWith("response_format.json_schema.schema", error.Param);
            Assert.EndsWith(schema.RefusedAt ?? "", error.Param);
            Assert.Contains("JSON Schema", error.Message);
            Assert.InRange(elapsed, TimeSpan.Zero, RefusalBound);
        }
        else
        {
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{name}: {(int)response.StatusCode} {Shorten(body)}");
            using var reply = JsonDocument.Parse(body);
            var choice = reply.RootElement.GetProperty("choices")[0];
            var content = choice.GetProperty("message").GetProperty("content").GetString()!;
            Assert.True(choice.GetProperty("finish_reason").GetString() == "stop", $"{name}: the reply was cut off: {Shorten(content)}");
            AssertValid(schema, content);
            Assert.InRange(elapsed, TimeSpan.Zero, ReplyBound);
        }

        foreach (var stream in await Task.WhenAll(streams).WaitAsync(ReplyBound, Cancel))
        {
            Assert.EndsWith("data: [DONE]\n\n", stream);
            Assert.DoesNotContain("data: {\"error\"", stream);
        }
        using var health = await client.GetAsync("/healthz", Cancel);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    // A free-text stream on the same model; returns once it has sent its first chunk, with its whole body to come.
    private static async Task<Task<string>> StartStreamAsync(HttpClient client, int seed)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = Json($$"""{"model":"random","messages":[{"role":"user","content":"Talk."}],"stream":true,"seed":{{seed}},"temperature":1,"max_tokens":300}"""),
        };
        var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, Cancel);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var reader = new StreamReader(await response.Content.ReadAsStreamAsync(Cancel));
        var first = await reader.ReadLineAsync(Cancel);
        return ReadRestAsync();

        async Task<string> ReadRestAsync()
        {
            using (response)
            using (reader)
            {
                return first + "\n" + await reader.ReadToEndAsync(Cancel);
            }
        }
    }

    private static void AssertValid(HostileSchema schema, string content) =>
        Assert.True(ReplyValidation.Problem(schema.Json, content) is null, $"{schema.Name}: {ReplyValidation.Problem(schema.Json, content)} in {Shorten(content)}");

    private static StringContent Json(string body) => new(body, Encoding.UTF8, new MediaTypeHeaderValue("application/json"));

    private static string Shorten(string text) => text.Length <= 600 ? text : text[..600] + "...";
}
