using System.Text;
using System.Text.Json;
using LlmStack.Api.Backends.Embedded;
using LlmStack.Api.Configuration;
using LlmStack.Api.Pipeline;
using LlmStack.Tests.Api.Responses;
using LlmStack.Tests.Fixtures;

namespace LlmStack.Tests.Api;

/// <summary>
/// Replies hold their schema as clients decode them, over HTTP: 100 replies per schema of a byte-level random-weight
/// model (any byte sequence is a candidate, so malformed UTF-8 unless sampling refuses it), through
/// <c>/v1/chat/completions</c> and <c>/v1/responses</c>, half of them streamed and put together from their deltas.
/// Every body is well-formed UTF-8 and every reply, as System.Text.Json decodes it, validates against its schema
/// (JsonSchema.Net, <see cref="ReplyValidation"/>). The requests of a case run together, so they share the model's
/// batches. Chat replies are seeded (a failure names its seed); the Responses API has no seed, its replies are random.
/// </summary>
public sealed class StructuredReplyTests(GeneratedModels models) : IAsyncDisposable
{
    private const int Replies = 100;
    private const int Concurrent = 8;

    // Whitespace between tokens is bounded (a newline and 20 blanks): the longest reply of these schemas fits.
    private const int MaxTokens = 800;

    private static readonly TimeSpan Bound = TimeSpan.FromMinutes(5);
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private static readonly Dictionary<string, string> Schemas = new(StringComparer.Ordinal)
    {
        ["bounded strings"] = """
            {"type":"object","properties":{
              "code":{"type":"string","minLength":3,"maxLength":3},
              "name":{"type":"string","minLength":2,"maxLength":8},
              "note":{"type":"string","maxLength":5}},
             "required":["code","name","note"],"additionalProperties":false}
            """,
        ["enums"] = """
            {"type":"object","properties":{
              "color":{"enum":["red","green","blue"]},
              "size":{"enum":["s","m","l","xl",null,1]},
              "word":{"type":"string","enum":["ä","🙂","日本","e\u0301"]}},
             "required":["color","size","word"],"additionalProperties":false}
            """,
        ["nested objects"] = """
            {"type":"object","properties":{
              "user":{"type":"object","properties":{
                "name":{"type":"string","minLength":1,"maxLength":6},
                "role":{"enum":["admin","guest"]},
                "address":{"type":"object","properties":{
                  "city":{"type":"string","maxLength":5},
                  "zip":{"type":"string","minLength":4,"maxLength":4}},
                 "required":["city","zip"],"additionalProperties":false}},
               "required":["name","role","address"],"additionalProperties":false},
              "ok":{"type":"boolean"}},
             "required":["user","ok"],"additionalProperties":false}
            """,
    };

    private readonly ApiApplication _app = new([new ModelOptions
    {
        Id = "random",
        Backend = EmbeddedBackend.BackendName,
        Path = models.Random,
        MaxQueue = Replies,
        Embedded = new() { ContextSize = Concurrent * 1024, ParallelSlots = Concurrent },
    }]);

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    public static TheoryData<string, string> Cases => new()
    {
        { "bounded strings", "/v1/chat/completions" },
        { "bounded strings", "/v1/responses" },
        { "enums", "/v1/chat/completions" },
        { "enums", "/v1/responses" },
        { "nested objects", "/v1/chat/completions" },
        { "nested objects", "/v1/responses" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Every_reply_of_a_random_model_is_utf8_that_validates_as_a_json_parser_decodes_it(string schemaName, string path)
    {
        var schema = Schemas[schemaName];
        using var client = new HttpClient { BaseAddress = _app.BaseAddress, Timeout = Bound };
        using var turns = new SemaphoreSlim(Concurrent);

        var replies = await Task.WhenAll(Enumerable.Range(0, Replies).Select(async seed =>
        {
            await turns.WaitAsync(Cancel);
            try
            {
                return await ReplyAsync(client, path, schema, seed, stream: seed % 2 == 1);
            }
            finally
            {
                turns.Release();
            }
        })).WaitAsync(Bound, Cancel);

        var problems = replies
            .Select((reply, seed) => (seed, reply, problem: reply.Finished ? ReplyValidation.Problem(schema, reply.Text) : "the reply was cut off"))
            .Where(r => r.problem is not null)
            .Select(r => $"seed {r.seed}{(r.seed % 2 == 1 ? " (streamed)" : "")}: {r.problem}: {r.reply.Text}")
            .ToList();
        Assert.True(problems.Count == 0, $"{problems.Count} of {Replies} replies fail '{schemaName}' through {path}:\n{string.Join("\n", problems.Take(5))}");
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    private static async Task<(string Text, bool Finished)> ReplyAsync(HttpClient client, string path, string schema, int seed, bool stream)
    {
        var responses = path == "/v1/responses";
        var body = responses
            ? $$"""{"model":"random","input":"Answer in JSON.","stream":{{Json(stream)}},"max_output_tokens":{{MaxTokens}},"text":{"format":{"type":"json_schema","name":"answer","strict":true,"schema":"""
            : $$"""{"model":"random","messages":[{"role":"user","content":"Answer in JSON."}],"seed":{{seed}},"stream":{{Json(stream)}},"max_tokens":{{MaxTokens}},"response_format":{"type":"json_schema","json_schema":{"name":"answer","strict":true,"schema":""";
        using var response = await client.PostAsync(path, new StringContent(body + schema + "}}}", Encoding.UTF8, "application/json"), Cancel);
        // The bytes as they came: a client's UTF-8 decoder refuses nothing in them.
        var text = StrictUtf8.GetString(await response.Content.ReadAsByteArrayAsync(Cancel));
        Assert.True(response.IsSuccessStatusCode, $"seed {seed}: {(int)response.StatusCode} {text}");
        return (responses, stream) switch
        {
            (false, false) => ChatReply(JsonDocument.Parse(text).RootElement.GetProperty("choices")[0]),
            (false, true) => ChatStreamReply(text),
            (true, false) => ResponseReply(JsonDocument.Parse(text).RootElement),
            (true, true) => ResponseStreamReply(text),
        };
    }

    private static (string, bool) ChatReply(JsonElement choice) =>
        (choice.GetProperty("message").GetProperty("content").GetString()!, choice.GetProperty("finish_reason").GetString() == "stop");

    private static (string, bool) ChatStreamReply(string body)
    {
        var text = new StringBuilder();
        string? finish = null;
        foreach (var data in ChatCompletionsWireTests.SseEvents(body).Where(e => e != "[DONE]"))
        {
            using var chunk = JsonDocument.Parse(data);
            foreach (var choice in chunk.RootElement.GetProperty("choices").EnumerateArray())
            {
                if (choice.GetProperty("delta").TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String)
                {
                    text.Append(content.GetString());
                }
                if (choice.TryGetProperty("finish_reason", out var reason) && reason.ValueKind == JsonValueKind.String)
                {
                    finish = reason.GetString();
                }
            }
        }
        return (text.ToString(), finish == "stop");
    }

    private static (string, bool) ResponseReply(JsonElement response)
    {
        var text = string.Concat(response.GetProperty("output").EnumerateArray()
            .Where(item => item.GetProperty("type").GetString() == "message")
            .SelectMany(item => item.GetProperty("content").EnumerateArray())
            .Where(part => part.GetProperty("type").GetString() == "output_text")
            .Select(part => part.GetProperty("text").GetString()));
        return (text, response.GetProperty("status").GetString() == "completed");
    }

    private static (string, bool) ResponseStreamReply(string body)
    {
        var events = ResponsesWireTests.Events(body);
        var text = string.Concat(events.Where(e => e.Event == "response.output_text.delta").Select(e => e.Data.GetProperty("delta").GetString()));
        var (last, data) = events[^1];
        // The deltas put together are the text the finished response holds.
        var (whole, finished) = last == "response.completed" ? ResponseReply(data.GetProperty("response")) : ("", false);
        Assert.Equal(whole, text);
        return (text, finished);
    }

    private static string Json(bool value) => value ? "true" : "false";
}
