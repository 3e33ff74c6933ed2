using System.Net;
using System.Text;
using System.Text.Json;
using LlmStack.Api.Errors;
using LlmStack.Tests.Fixtures;
using Microsoft.Extensions.AI;

namespace LlmStack.Tests.Api;

/// <summary>
/// The wire format of /v1/chat/completions, byte for byte, against scripted backends: what each kind of
/// update becomes, and how failures before and after the first chunk reach the client.
/// </summary>
public sealed class ChatCompletionsWireTests
{
    private const string Model = "scripted";

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Stream_is_data_events_with_one_id_role_first_finish_then_usage_then_done()
    {
        await using var app = InMemoryBackend.Serve((Model, InMemoryChatClient.Replying(["Hel", "lo"])));
        using var client = app.CreateClient();

        using var response = await PostAsync(client, """{"model":"scripted","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}""");
        var body = await response.Content.ReadAsStringAsync(Cancel);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var first = JsonDocument.Parse(body["data: ".Length..body.IndexOf('\n')]);
        var id = first.RootElement.GetProperty("id").GetString()!;
        var created = first.RootElement.GetProperty("created").GetInt64();
        Assert.StartsWith("chatcmpl-", id);
        Assert.InRange(created, DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 60, DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 1);
        var head = $$"""{"id":"{{id}}","object":"chat.completion.chunk","created":{{created}},"model":"scripted","choices":""";
        Assert.Equal(
            $$"""data: {{head}}[{"index":0,"delta":{"role":"assistant","content":"Hel"},"finish_reason":null}]}""" + "\n\n" +
            $$"""data: {{head}}[{"index":0,"delta":{"content":"lo"},"finish_reason":null}]}""" + "\n\n" +
            $$"""data: {{head}}[{"index":0,"delta":{},"finish_reason":"stop"}]}""" + "\n\n" +
            $$$"""data: {{{head}}}[],"usage":{"prompt_tokens":7,"completion_tokens":2,"total_tokens":9}}""" + "\n\n" +
            "data: [DONE]\n\n",
            body);
    }

    [Fact]
    public async Task Stream_has_no_usage_chunk_unless_asked()
    {
        await using var app = InMemoryBackend.Serve((Model, InMemoryChatClient.Replying(["Hel", "lo"])));
        using var client = app.CreateClient();

        using var response = await PostAsync(client, """{"model":"scripted","messages":[{"role":"user","content":"hi"}],"stream":true}""");
        var events = SseEvents(await response.Content.ReadAsStringAsync(Cancel));

        Assert.Equal(4, events.Count);
        Assert.Equal("[DONE]", events[^1]);
        Assert.All(events[..^1], e => Assert.DoesNotContain("\"usage\"", e));
        Assert.Contains("\"finish_reason\":\"stop\"", events[^2]);
    }

    [Fact]
    public async Task Stream_response_is_unbuffered_event_stream()
    {
        await using var app = InMemoryBackend.Serve((Model, InMemoryChatClient.Replying(["x"])));
        using var client = app.CreateClient();

        using var response = await PostAsync(client, """{"model":"scripted","messages":[{"role":"user","content":"hi"}],"stream":true}""");

        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        Assert.True(response.Headers.CacheControl?.NoCache);
        Assert.Equal("no", Assert.Single(response.Headers.GetValues("X-Accel-Buffering")));
    }

    [Fact]
    public async Task Completion_has_OpenAI_shape_with_usage()
    {
        await using var app = InMemoryBackend.Serve((Model, InMemoryChatClient.Replying(["Hel", "lo"])));
        using var client = app.CreateClient();

        using var response = await PostAsync(client, """{"model":"scripted","messages":[{"role":"user","content":"hi"}]}""");
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Cancel));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var root = json.RootElement;
        Assert.StartsWith("chatcmpl-", root.GetProperty("id").GetString());
        Assert.Equal("chat.completion", root.GetProperty("object").GetString());
        Assert.Equal("scripted", root.GetProperty("model").GetString());
        var choice = Assert.Single(root.GetProperty("choices").EnumerateArray().ToList());
        Assert.Equal(0, choice.GetProperty("index").GetInt32());
        Assert.Equal("assistant", choice.GetProperty("message").GetProperty("role").GetString());
        Assert.Equal("Hello", choice.GetProperty("message").GetProperty("content").GetString());
        Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());
        Assert.Equal("""{"prompt_tokens":7,"completion_tokens":2,"total_tokens":9}""", root.GetProperty("usage").GetRawText());
    }

    [Fact]
    public async Task Usage_says_how_many_prompt_tokens_were_cached_when_the_backend_does_streamed_and_not()
    {
        var usage = new UsageDetails { InputTokenCount = 7, OutputTokenCount = 2, TotalTokenCount = 9, CachedInputTokenCount = 5 };
        await using var app = InMemoryBackend.Serve((Model, InMemoryChatClient.Replying(["Hel", "lo"], usage: usage)));
        using var client = app.CreateClient();
        const string expected = """{"prompt_tokens":7,"completion_tokens":2,"total_tokens":9,"prompt_tokens_details":{"cached_tokens":5}}""";

        using var plain = await PostAsync(client, """{"model":"scripted","messages":[{"role":"user","content":"hi"}]}""");
        using var json = JsonDocument.Parse(await plain.Content.ReadAsStringAsync(Cancel));
        using var streamed = await PostAsync(client, """{"model":"scripted","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}""");
        var events = SseEvents(await streamed.Content.ReadAsStringAsync(Cancel));
        using var usageChunk = JsonDocument.Parse(events[^2]);

        Assert.Equal(expected, json.RootElement.GetProperty("usage").GetRawText());
        Assert.Equal(expected, usageChunk.RootElement.GetProperty("usage").GetRawText());
    }

    [Fact]
    public async Task Length_limit_is_finish_reason_length()
    {
        await using var app = InMemoryBackend.Serve((Model, InMemoryChatClient.Replying(["a", "b"], ChatFinishReason.Length)));
        using var client = app.CreateClient();

        using var plain = await PostAsync(client, """{"model":"scripted","messages":[{"role":"user","content":"hi"}],"max_tokens":2}""");
        using var streamed = await PostAsync(client, """{"model":"scripted","messages":[{"role":"user","content":"hi"}],"max_tokens":2,"stream":true}""");

        Assert.Contains("\"finish_reason\":\"length\"", await plain.Content.ReadAsStringAsync(Cancel));
        Assert.Contains("\"finish_reason\":\"length\"", SseEvents(await streamed.Content.ReadAsStringAsync(Cancel))[^2]);
    }

    [Fact]
    public async Task Backend_failure_before_the_first_token_is_an_ordinary_error_response()
    {
        var backend = InMemoryChatClient.FailingAfter([], ApiErrorException.BackendUnavailable(Model, "connection refused"));
        await using var app = InMemoryBackend.Serve((Model, backend));
        using var client = app.CreateClient();

        using var response = await PostAsync(client, """{"model":"scripted","messages":[{"role":"user","content":"hi"}],"stream":true}""");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        var error = await ErrorEnvelope.ReadAsync(response);
        Assert.Equal("backend_unavailable", error.Code);
        Assert.Contains("connection refused", error.Message);
    }

    [Fact]
    public async Task Rate_limited_backend_is_429_with_retry_after()
    {
        var backend = InMemoryChatClient.FailingAfter([], ApiErrorException.RateLimited(Model, TimeSpan.FromSeconds(6.5)));
        await using var app = InMemoryBackend.Serve((Model, backend));
        using var client = app.CreateClient();

        using var response = await PostAsync(client, """{"model":"scripted","messages":[{"role":"user","content":"hi"}]}""");

        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(7), response.Headers.RetryAfter?.Delta);
        Assert.Equal("rate_limit_exceeded", (await ErrorEnvelope.ReadAsync(response)).Code);
    }

    [Fact]
    public async Task Backend_failure_after_the_stream_started_is_an_error_event_then_done()
    {
        var backend = InMemoryChatClient.FailingAfter(["Hel"], new InvalidOperationException("native crash details"));
        await using var app = InMemoryBackend.Serve((Model, backend));
        using var client = app.CreateClient();

        using var response = await PostAsync(client, """{"model":"scripted","messages":[{"role":"user","content":"hi"}],"stream":true}""");
        var events = SseEvents(await response.Content.ReadAsStringAsync(Cancel));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(3, events.Count);
        Assert.Contains("\"content\":\"Hel\"", events[0]);
        var error = ErrorEnvelope.Parse(events[1]);
        Assert.Equal("server_error", error.Type);
        Assert.DoesNotContain("native crash details", events[1]);
        Assert.Equal("[DONE]", events[2]);
    }

    [Fact]
    public async Task Unexpected_exception_is_500_internal_error_without_details()
    {
        var backend = InMemoryChatClient.FailingAfter([], new InvalidOperationException("secret stack detail"));
        await using var app = InMemoryBackend.Serve((Model, backend));
        using var client = app.CreateClient();

        using var response = await PostAsync(client, """{"model":"scripted","messages":[{"role":"user","content":"hi"}]}""");
        var body = await response.Content.ReadAsStringAsync(Cancel);

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Equal("internal_error", ErrorEnvelope.Parse(body).Code);
        Assert.DoesNotContain("secret", body);
        Assert.DoesNotContain("   at ", body);
    }

    [Fact]
    public async Task Tool_calls_are_in_the_message_with_finish_reason_tool_calls()
    {
        await using var app = InMemoryBackend.Serve((Model, new InMemoryChatClient((_, _, _) => CallWeatherTool())));
        using var client = app.CreateClient();

        using var response = await PostAsync(client, WeatherToolRequest(stream: false));
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Cancel));

        var choice = json.RootElement.GetProperty("choices")[0];
        Assert.Equal("tool_calls", choice.GetProperty("finish_reason").GetString());
        var message = choice.GetProperty("message");
        Assert.Equal(JsonValueKind.Null, message.GetProperty("content").ValueKind);
        var call = Assert.Single(message.GetProperty("tool_calls").EnumerateArray().ToList());
        Assert.Equal("call_1", call.GetProperty("id").GetString());
        Assert.Equal("function", call.GetProperty("type").GetString());
        Assert.Equal("get_weather", call.GetProperty("function").GetProperty("name").GetString());
        Assert.Equal("""{"city":"Paris"}""", call.GetProperty("function").GetProperty("arguments").GetString());
    }

    [Fact]
    public async Task Tool_calls_stream_as_indexed_deltas()
    {
        await using var app = InMemoryBackend.Serve((Model, new InMemoryChatClient((_, _, _) => CallWeatherTool())));
        using var client = app.CreateClient();

        using var response = await PostAsync(client, WeatherToolRequest(stream: true));
        var events = SseEvents(await response.Content.ReadAsStringAsync(Cancel));

        using var delta = JsonDocument.Parse(events[0]);
        var call = Assert.Single(delta.RootElement.GetProperty("choices")[0].GetProperty("delta").GetProperty("tool_calls").EnumerateArray().ToList());
        Assert.Equal(0, call.GetProperty("index").GetInt32());
        Assert.Equal("call_1", call.GetProperty("id").GetString());
        Assert.Equal("function", call.GetProperty("type").GetString());
        Assert.Equal("get_weather", call.GetProperty("function").GetProperty("name").GetString());
        Assert.Equal("""{"city":"Paris"}""", call.GetProperty("function").GetProperty("arguments").GetString());
        Assert.Contains("\"finish_reason\":\"tool_calls\"", events[^2]);
    }

    [Fact]
    public async Task Request_fields_map_onto_chat_options_and_messages()
    {
        var backend = InMemoryChatClient.Replying(["ok"]);
        await using var app = InMemoryBackend.Serve((Model, backend));
        using var client = app.CreateClient();

        using var response = await PostAsync(client, """
            {"model":"scripted",
             "messages":[
               {"role":"developer","content":"Be brief."},
               {"role":"user","name":"ann","content":[{"type":"text","text":"Weather "},{"type":"text","text":"in Paris?"}]},
               {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},
               {"role":"tool","tool_call_id":"call_1","content":"18C"}],
             "max_completion_tokens":42,"temperature":0.5,"top_p":0.9,"presence_penalty":0.1,"frequency_penalty":-0.2,
             "stop":["END"],"seed":7,"user":"u-1","parallel_tool_calls":false,
             "response_format":{"type":"json_schema","json_schema":{"name":"answer","schema":{"type":"object"}}},
             "tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}],
             "tool_choice":{"type":"function","function":{"name":"get_weather"}},
             "some_future_field":{"ignored":true}}
            """);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var options = backend.LastOptions!;
        Assert.Equal(42, options.MaxOutputTokens);
        Assert.Equal(0.5f, options.Temperature);
        Assert.Equal(0.9f, options.TopP);
        Assert.Equal(0.1f, options.PresencePenalty);
        Assert.Equal(-0.2f, options.FrequencyPenalty);
        Assert.Equal(["END"], options.StopSequences!);
        Assert.Equal(7, options.Seed);
        Assert.False(options.AllowMultipleToolCalls);
        Assert.Equal("answer", Assert.IsType<ChatResponseFormatJson>(options.ResponseFormat).SchemaName);
        Assert.Equal("get_weather", Assert.Single(options.Tools!).Name);
        Assert.Equal("get_weather", Assert.IsType<RequiredChatToolMode>(options.ToolMode).RequiredFunctionName);

        var messages = backend.LastMessages!;
        Assert.Equal([ChatRole.System, ChatRole.User, ChatRole.Assistant, ChatRole.Tool], messages.Select(m => m.Role));
        Assert.Equal("Weather in Paris?", messages[1].Text);
        Assert.Equal("ann", messages[1].AuthorName);
        var call = Assert.IsType<FunctionCallContent>(Assert.Single(messages[2].Contents));
        Assert.Equal(("call_1", "get_weather", "Paris"), (call.CallId, call.Name, call.Arguments!["city"]!.ToString()));
        var result = Assert.IsType<FunctionResultContent>(Assert.Single(messages[3].Contents));
        Assert.Equal(("call_1", "18C"), (result.CallId, result.Result!.ToString()));
    }

    [Fact]
    public async Task Image_parts_reach_a_model_that_takes_images()
    {
        var backend = InMemoryChatClient.Replying(["a cat"]);
        backend.AcceptsImages = true;
        await using var app = InMemoryBackend.Serve(("vision", backend));
        using var client = app.CreateClient();

        using var response = await PostAsync(client, """
            {"model":"vision","messages":[{"role":"user","content":[{"type":"text","text":"What is it?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}]}]}
            """);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var image = Assert.IsType<DataContent>(backend.LastMessages![0].Contents[1]);
        Assert.Equal("image/png", image.MediaType);
    }

    [Fact]
    public async Task Request_id_is_echoed_or_generated()
    {
        await using var app = InMemoryBackend.Serve((Model, InMemoryChatClient.Replying(["x"])));
        using var client = app.CreateClient();

        using var echoed = new HttpRequestMessage(HttpMethod.Get, "/v1/models") { Headers = { { "x-request-id", "caller-123" } } };
        using var echoedResponse = await client.SendAsync(echoed, Cancel);
        using var generated = await client.GetAsync("/v1/models/missing", Cancel);
        using var generated2 = await PostAsync(client, "{}");

        Assert.Equal("caller-123", Assert.Single(echoedResponse.Headers.GetValues("x-request-id")));
        var id1 = Assert.Single(generated.Headers.GetValues("x-request-id"));
        var id2 = Assert.Single(generated2.Headers.GetValues("x-request-id"));
        Assert.StartsWith("req_", id1);
        Assert.NotEqual(id1, id2);
    }

    internal static Task<HttpResponseMessage> PostAsync(HttpClient client, string body) =>
        client.PostAsync("/v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"), Cancel);

    /// <summary>The data of each event; fails unless the body is nothing but well-formed <c>data:</c> events.</summary>
    internal static List<string> SseEvents(string body)
    {
        Assert.EndsWith("\n\n", body);
        var events = body[..^2].Split("\n\n");
        Assert.All(events, e =>
        {
            Assert.StartsWith("data: ", e);
            Assert.DoesNotContain('\n', e);
        });
        return [.. events.Select(e => e["data: ".Length..])];
    }

    private static string WeatherToolRequest(bool stream) => """
        {"model":"scripted","stream":STREAM,"messages":[{"role":"user","content":"Weather in Paris?"}],
         "tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]}
        """.Replace("STREAM", stream ? "true" : "false");

    private static async IAsyncEnumerable<ChatResponseUpdate> CallWeatherTool()
    {
        await Task.Yield();
        yield return new ChatResponseUpdate(ChatRole.Assistant, [new FunctionCallContent("call_1", "get_weather", new Dictionary<string, object?> { ["city"] = "Paris" })]);
        yield return new ChatResponseUpdate { FinishReason = ChatFinishReason.ToolCalls };
    }

}
