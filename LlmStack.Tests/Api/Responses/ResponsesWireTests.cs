using System.Net;
using System.Text;
using System.Text.Json;
using LlmStack.Api.Errors;
using LlmStack.Tests.Fixtures;
using Microsoft.Extensions.AI;

namespace LlmStack.Tests.Api.Responses;

/// <summary>
/// /v1/responses on the wire against scripted backends: the response object, the server-sent event sequence
/// byte by byte, function calls, length cut-offs, failures, stored responses and conversations.
/// </summary>
public sealed class ResponsesWireTests
{
    private const string Model = "scripted";

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Response_has_the_reply_as_a_message_item_with_output_text_and_usage()
    {
        await using var app = InMemoryBackend.Serve((Model, InMemoryChatClient.Replying(["Hel", "lo"])));
        using var client = app.CreateClient();

        using var response = await PostAsync(client, """{"model":"scripted","input":"hi","metadata":{"k":"v"}}""");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Cancel));
        var root = json.RootElement;
        Assert.StartsWith("resp_", root.GetProperty("id").GetString());
        Assert.Equal("response", root.GetProperty("object").GetString());
        Assert.Equal("completed", root.GetProperty("status").GetString());
        Assert.Equal("scripted", root.GetProperty("model").GetString());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("error").ValueKind);
        Assert.Equal(JsonValueKind.Null, root.GetProperty("incomplete_details").ValueKind);
        Assert.Equal("Hello", root.GetProperty("output_text").GetString());
        Assert.Equal("v", root.GetProperty("metadata").GetProperty("k").GetString());
        var item = Assert.Single(root.GetProperty("output").EnumerateArray());
        Assert.Equal("message", item.GetProperty("type").GetString());
        Assert.StartsWith("msg_", item.GetProperty("id").GetString());
        Assert.Equal("completed", item.GetProperty("status").GetString());
        Assert.Equal("assistant", item.GetProperty("role").GetString());
        Assert.Equal("""[{"type":"output_text","text":"Hello","annotations":[]}]""", item.GetProperty("content").GetRawText());
        Assert.Equal("""{"input_tokens":7,"input_tokens_details":{"cached_tokens":0},"output_tokens":2,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":9}""",
            root.GetProperty("usage").GetRawText());
    }

    [Fact]
    public async Task Stream_is_the_responses_event_sequence_numbered_in_order()
    {
        await using var app = InMemoryBackend.Serve((Model, InMemoryChatClient.Replying(["Hel", "lo"])));
        using var client = app.CreateClient();

        using var response = await PostAsync(client, """{"model":"scripted","input":"hi","stream":true}""");
        var body = await response.Content.ReadAsStringAsync(Cancel);
        var events = Events(body);

        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(
        [
            "response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
            "response.output_text.delta", "response.output_text.delta", "response.output_text.done", "response.content_part.done",
            "response.output_item.done", "response.completed",
        ], events.Select(e => e.Event));
        Assert.Equal(Enumerable.Range(0, events.Count), events.Select(e => e.Data.GetProperty("sequence_number").GetInt32()));
        Assert.All(events, e => Assert.Equal(e.Event, e.Data.GetProperty("type").GetString()));
        Assert.DoesNotContain("[DONE]", body);

        var id = events[0].Data.GetProperty("response").GetProperty("id").GetString();
        Assert.Equal("in_progress", events[0].Data.GetProperty("response").GetProperty("status").GetString());
        Assert.Equal(0, events[0].Data.GetProperty("response").GetProperty("output").GetArrayLength());
        var itemId = events[2].Data.GetProperty("item").GetProperty("id").GetString();
        Assert.Equal($$"""{"type":"message","id":"{{itemId}}","status":"in_progress","role":"assistant","content":[]}""",
            events[2].Data.GetProperty("item").GetRawText());
        Assert.Contains(
            $$"""event: response.output_text.delta{{"\n"}}data: {"type":"response.output_text.delta","sequence_number":4,"item_id":"{{itemId}}","output_index":0,"content_index":0,"delta":"Hel","logprobs":[]}{{"\n\n"}}""",
            body);
        Assert.Equal("Hello", events[6].Data.GetProperty("text").GetString());
        Assert.Equal("""{"type":"output_text","text":"Hello","annotations":[]}""", events[7].Data.GetProperty("part").GetRawText());
        var final = events[^1].Data.GetProperty("response");
        Assert.Equal(id, final.GetProperty("id").GetString());
        Assert.Equal("completed", final.GetProperty("status").GetString());
        Assert.Equal("Hello", final.GetProperty("output_text").GetString());
        Assert.Equal(9, final.GetProperty("usage").GetProperty("total_tokens").GetInt32());
        Assert.EndsWith("\n\n", body);
    }

    [Fact]
    public async Task Length_cut_off_is_incomplete_with_its_reason_streamed_and_not()
    {
        await using var app = InMemoryBackend.Serve((Model, InMemoryChatClient.Replying(["Hel"], ChatFinishReason.Length)));
        using var client = app.CreateClient();

        using var whole = await PostAsync(client, """{"model":"scripted","input":"hi","max_output_tokens":1}""");
        using var streamed = await PostAsync(client, """{"model":"scripted","input":"hi","max_output_tokens":1,"stream":true}""");

        using var json = JsonDocument.Parse(await whole.Content.ReadAsStringAsync(Cancel));
        Assert.Equal("incomplete", json.RootElement.GetProperty("status").GetString());
        Assert.Equal("max_output_tokens", json.RootElement.GetProperty("incomplete_details").GetProperty("reason").GetString());
        Assert.Equal("incomplete", json.RootElement.GetProperty("output")[0].GetProperty("status").GetString());
        var events = Events(await streamed.Content.ReadAsStringAsync(Cancel));
        Assert.Equal("response.incomplete", events[^1].Event);
        Assert.Equal("max_output_tokens", events[^1].Data.GetProperty("response").GetProperty("incomplete_details").GetProperty("reason").GetString());
    }

    [Fact]
    public async Task Function_call_is_an_item_with_its_arguments_streamed_and_not()
    {
        await using var app = InMemoryBackend.Serve((Model, new InMemoryChatClient((_, _, _) => CallWeatherTool())));
        using var client = app.CreateClient();
        const string request = """
            {"model":"scripted","input":"Weather?","tools":[{"type":"function","name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}]STREAM}
            """;

        using var whole = await PostAsync(client, request.Replace("STREAM", "", StringComparison.Ordinal));
        using var streamed = await PostAsync(client, request.Replace("STREAM", ",\"stream\":true", StringComparison.Ordinal));

        using var json = JsonDocument.Parse(await whole.Content.ReadAsStringAsync(Cancel));
        var item = Assert.Single(json.RootElement.GetProperty("output").EnumerateArray());
        Assert.Equal("function_call", item.GetProperty("type").GetString());
        Assert.StartsWith("fc_", item.GetProperty("id").GetString());
        Assert.Equal("call_1", item.GetProperty("call_id").GetString());
        Assert.Equal("get_weather", item.GetProperty("name").GetString());
        Assert.Equal("""{"city":"Paris"}""", item.GetProperty("arguments").GetString());
        Assert.Equal("completed", item.GetProperty("status").GetString());
        var events = Events(await streamed.Content.ReadAsStringAsync(Cancel));
        Assert.Equal(
        [
            "response.created", "response.in_progress", "response.output_item.added", "response.function_call_arguments.delta",
            "response.function_call_arguments.done", "response.output_item.done", "response.completed",
        ], events.Select(e => e.Event));
        Assert.Equal("", events[2].Data.GetProperty("item").GetProperty("arguments").GetString());
        Assert.Equal("""{"city":"Paris"}""", events[3].Data.GetProperty("delta").GetString());
        Assert.Equal("""{"city":"Paris"}""", events[4].Data.GetProperty("arguments").GetString());
        Assert.Equal(events[2].Data.GetProperty("item").GetProperty("id").GetString(), events[3].Data.GetProperty("item_id").GetString());
    }

    [Fact]
    public async Task Failure_after_the_first_event_is_response_failed_with_the_error()
    {
        var backend = InMemoryChatClient.FailingAfter(["Hel"], ApiErrorException.BackendFailed(Model, "runner died"));
        await using var app = InMemoryBackend.Serve((Model, backend));
        using var client = app.CreateClient();

        using var response = await PostAsync(client, """{"model":"scripted","input":"hi","stream":true}""");
        var events = Events(await response.Content.ReadAsStringAsync(Cancel));

        Assert.Equal("response.failed", events[^1].Event);
        var failed = events[^1].Data.GetProperty("response");
        Assert.Equal("failed", failed.GetProperty("status").GetString());
        Assert.Equal("backend_error", failed.GetProperty("error").GetProperty("code").GetString());
        Assert.Contains("runner died", failed.GetProperty("error").GetProperty("message").GetString());
    }

    [Fact]
    public async Task Failure_before_the_first_update_is_an_error_response_with_its_status()
    {
        var backend = InMemoryChatClient.FailingAfter([], ApiErrorException.BackendUnavailable(Model, "connection refused"));
        await using var app = InMemoryBackend.Serve((Model, backend));
        using var client = app.CreateClient();

        using var response = await PostAsync(client, """{"model":"scripted","input":"hi","stream":true}""");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("backend_unavailable", (await ErrorEnvelope.ReadAsync(response)).Code);
    }

    [Theory]
    [InlineData("""{"model":"scripted","input":"hi","tools":[{"type":"web_search"}]}""", "tools[0].type", "'web_search'")]
    [InlineData("""{"model":"scripted","input":"hi","tools":[{"type":"file_search","vector_store_ids":["vs_1"]}]}""", "tools[0].type", "'file_search'")]
    [InlineData("""{"model":"scripted","input":"hi","tool_choice":{"type":"web_search_preview"},"tools":[{"type":"function","name":"f"}]}""", "tool_choice.type", "'web_search_preview'")]
    [InlineData("""{"model":"scripted"}""", "input", "'input'")]
    [InlineData("""{"model":"scripted","input":[{"type":"message","role":"user","content":[{"type":"input_file","file_id":"f"}]}]}""", "input[0].content[0].type", "'input_file'")]
    [InlineData("""{"model":"scripted","input":[{"role":"robot","content":"hi"}]}""", "input[0].role", "'robot'")]
    [InlineData("""{"model":"scripted","input":[{"type":"function_call","call_id":"c","name":"f","arguments":"not json"}]}""", "input[0].arguments", "not valid JSON")]
    [InlineData("""{"model":"scripted","input":"hi","background":true}""", "background", "'background'")]
    [InlineData("""{"model":"scripted","input":"hi","max_output_tokens":0}""", "max_output_tokens", "minimum")]
    [InlineData("""{"model":"scripted","input":"hi","text":{"format":{"type":"json_schema","name":"x"}}}""", "text.format.schema", "'text.format.schema'")]
    public async Task Request_the_server_cannot_honour_is_a_400_naming_the_field(string request, string param, string saying)
    {
        await using var app = InMemoryBackend.Serve((Model, InMemoryChatClient.Replying(["Hi"])));
        using var client = app.CreateClient();

        using var response = await PostAsync(client, request);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = await ErrorEnvelope.ReadAsync(response);
        Assert.Equal(param, error.Param);
        Assert.Contains(saying, error.Message);
    }

    [Fact]
    public async Task Input_items_become_the_conversation_with_instructions_first()
    {
        var backend = InMemoryChatClient.Replying(["Done"]);
        await using var app = InMemoryBackend.Serve((Model, backend));
        using var client = app.CreateClient();

        using var response = await PostAsync(client, """
            {"model":"scripted","instructions":"Be brief.","input":[
              {"role":"developer","content":"Use metric units."},
              {"type":"message","role":"user","content":[{"type":"input_text","text":"Weather in Paris?"}]},
              {"type":"function_call","call_id":"call_9","name":"get_weather","arguments":"{\"city\":\"Paris\"}"},
              {"type":"function_call_output","call_id":"call_9","output":"21 C"},
              {"type":"reasoning","id":"rs_1","summary":[]}]}
            """);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var messages = backend.LastMessages!;
        Assert.Equal([ChatRole.System, ChatRole.System, ChatRole.User, ChatRole.Assistant, ChatRole.Tool], messages.Select(m => m.Role));
        Assert.Equal("Be brief.", messages[0].Text);
        var call = Assert.IsType<FunctionCallContent>(Assert.Single(messages[3].Contents));
        Assert.Equal(("call_9", "get_weather"), (call.CallId, call.Name));
        Assert.Equal("Paris", ((JsonElement)call.Arguments!["city"]!).GetString());
        var result = Assert.IsType<FunctionResultContent>(Assert.Single(messages[4].Contents));
        Assert.Equal(("call_9", "21 C"), (result.CallId, result.Result as string));
    }

    [Fact]
    public async Task Previous_response_id_continues_the_stored_conversation()
    {
        var backend = InMemoryChatClient.Replying(["Paris."]);
        await using var app = InMemoryBackend.Serve((Model, backend));
        using var client = app.CreateClient();

        using var first = await PostAsync(client, """{"model":"scripted","instructions":"Only for the first turn.","input":"Capital of France?"}""");
        var firstId = await IdOf(first);
        using var second = await PostAsync(client, $$"""{"model":"scripted","previous_response_id":"{{firstId}}","input":"And of Italy?","stream":true}""");
        var secondId = Events(await second.Content.ReadAsStringAsync(Cancel))[^1].Data.GetProperty("response").GetProperty("id").GetString();
        using var third = await PostAsync(client, $$"""{"model":"scripted","previous_response_id":"{{secondId}}","input":"Thanks"}""");

        Assert.Equal(HttpStatusCode.OK, third.StatusCode);
        Assert.Equal(
            [(ChatRole.User, "Capital of France?"), (ChatRole.Assistant, "Paris."), (ChatRole.User, "And of Italy?"), (ChatRole.Assistant, "Paris."), (ChatRole.User, "Thanks")],
            backend.LastMessages!.Select(m => (m.Role, m.Text)));
    }

    [Fact]
    public async Task Stored_response_is_read_then_deleted_and_then_gone()
    {
        await using var app = InMemoryBackend.Serve((Model, InMemoryChatClient.Replying(["Hel", "lo"])));
        using var client = app.CreateClient();
        using var created = await PostAsync(client, """{"model":"scripted","input":"hi"}""");
        var createdBody = await created.Content.ReadAsStringAsync(Cancel);
        var id = JsonDocument.Parse(createdBody).RootElement.GetProperty("id").GetString();

        using var read = await client.GetAsync($"/v1/responses/{id}", Cancel);
        using var deleted = await client.DeleteAsync($"/v1/responses/{id}", Cancel);
        using var readAgain = await client.GetAsync($"/v1/responses/{id}", Cancel);
        using var deletedAgain = await client.DeleteAsync($"/v1/responses/{id}", Cancel);
        using var continued = await PostAsync(client, $$"""{"model":"scripted","previous_response_id":"{{id}}","input":"more"}""");

        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        Assert.Equal(createdBody, await read.Content.ReadAsStringAsync(Cancel));
        Assert.Equal($$"""{"id":"{{id}}","object":"response","deleted":true}""", await deleted.Content.ReadAsStringAsync(Cancel));
        Assert.Equal(HttpStatusCode.NotFound, readAgain.StatusCode);
        Assert.Equal("response_not_found", (await ErrorEnvelope.ReadAsync(readAgain)).Code);
        Assert.Equal(HttpStatusCode.NotFound, deletedAgain.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, continued.StatusCode);
        Assert.Equal("previous_response_id", (await ErrorEnvelope.ReadAsync(continued)).Param);
    }

    [Fact]
    public async Task Response_with_store_false_is_not_kept()
    {
        await using var app = InMemoryBackend.Serve((Model, InMemoryChatClient.Replying(["Hi"])));
        using var client = app.CreateClient();
        using var created = await PostAsync(client, """{"model":"scripted","input":"hi","store":false}""");
        var id = await IdOf(created);

        using var read = await client.GetAsync($"/v1/responses/{id}", Cancel);

        Assert.Equal(HttpStatusCode.NotFound, read.StatusCode);
    }

    private static async Task<string> IdOf(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Cancel));
        return json.RootElement.GetProperty("id").GetString()!;
    }

    internal static Task<HttpResponseMessage> PostAsync(HttpClient client, string body) =>
        client.PostAsync("/v1/responses", new StringContent(body, Encoding.UTF8, "application/json"), Cancel);

    /// <summary>The events of an SSE body; fails unless every one is exactly <c>event: T\ndata: {json}\n\n</c>.</summary>
    internal static List<(string Event, JsonElement Data)> Events(string body)
    {
        var events = new List<(string, JsonElement)>();
        foreach (var block in body.Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
        {
            var lines = block.Split('\n');
            Assert.Equal(2, lines.Length);
            Assert.StartsWith("event: ", lines[0]);
            Assert.StartsWith("data: ", lines[1]);
            events.Add((lines[0]["event: ".Length..], JsonDocument.Parse(lines[1]["data: ".Length..]).RootElement));
        }
        return events;
    }

    private static async IAsyncEnumerable<ChatResponseUpdate> CallWeatherTool()
    {
        await Task.Yield();
        yield return new ChatResponseUpdate(ChatRole.Assistant, [new FunctionCallContent("call_1", "get_weather", new Dictionary<string, object?> { ["city"] = "Paris" })]);
        yield return new ChatResponseUpdate(ChatRole.Assistant, [new UsageContent(new UsageDetails { InputTokenCount = 5, OutputTokenCount = 3 })])
        {
            FinishReason = ChatFinishReason.ToolCalls,
        };
    }

}
