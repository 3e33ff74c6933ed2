using System.Net;
using System.Text;
using System.Text.Json;
using LlmStack.Api.Configuration;
using LlmStack.Tests.Backends;
using LlmStack.Tests.Fixtures;

namespace LlmStack.Tests.Api;

/// <summary>
/// A tool call's arguments stream as they are generated, over SSE: from the embedded engine (its tool-call parser sends
/// the arguments' text as the <c>&lt;tool_call&gt;</c> block is decoded) and passed through from an OpenAI-compatible
/// upstream (here a second LlmStack serving the same model, which itself streams them in fragments).
/// </summary>
public sealed class StreamedToolArgumentsTests(GeneratedModels models) : IAsyncLifetime
{
    private ApiApplication _upstream = null!;
    private ApiApplication _app = null!;

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    public ValueTask InitializeAsync()
    {
        _upstream = new ApiApplication([new ModelOptions { Id = "tools-upstream", Backend = "embedded", Path = models.ToolCalling }]);
        _app = new ApiApplication(
        [
            new ModelOptions { Id = "tools", Backend = "embedded", Path = models.ToolCalling },
            BackendHost.UpstreamModel("openai", "tools-chained", _upstream.OpenAIEndpoint.ToString(), "tools-upstream"),
        ]);
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    [Theory]
    [InlineData("tools")]
    [InlineData("tools-chained")]
    public async Task Streamed_tool_arguments_arrive_in_several_deltas_that_concatenate_to_valid_json(string model)
    {
        using var client = _app.CreateClient();
        const string tools = """
            "tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]}
            """;
        var body = "{\"model\":\"" + model + "\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"Weather in Paris?\"}]," + tools;
        using var response = await client.PostAsync("/v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"), Cancel);
        var text = await response.Content.ReadAsStringAsync(Cancel);
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);

        var chunks = ChatCompletionsWireTests.SseEvents(text)[..^1].Select(e => JsonDocument.Parse(e).RootElement).ToList();
        var deltas = chunks.SelectMany(c => c.GetProperty("choices").EnumerateArray())
            .Where(c => c.GetProperty("delta").TryGetProperty("tool_calls", out _))
            .SelectMany(c => c.GetProperty("delta").GetProperty("tool_calls").EnumerateArray())
            .ToList();
        Assert.True(deltas.Count > 1, $"the arguments came in {deltas.Count} delta(s): {text}");
        Assert.All(deltas, d => Assert.Equal(0, d.GetProperty("index").GetInt32()));
        // The first delta names the call; the others continue it by index.
        Assert.Equal("get_weather", deltas[0].GetProperty("function").GetProperty("name").GetString());
        Assert.StartsWith("call_", deltas[0].GetProperty("id").GetString());
        Assert.All(deltas.Skip(1), d => Assert.False(d.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String));
        var arguments = string.Concat(deltas.Select(d => d.GetProperty("function").GetProperty("arguments").GetString()));
        using var parsed = JsonDocument.Parse(arguments);
        Assert.Equal("Paris", parsed.RootElement.GetProperty("city").GetString());
        Assert.Contains(chunks, c => c.GetProperty("choices").EnumerateArray().Any(choice => choice.GetProperty("finish_reason").GetString() == "tool_calls"));
    }

    [Theory]
    [InlineData("tools")]
    [InlineData("tools-chained")]
    public async Task A_responses_stream_sends_the_function_call_arguments_as_they_are_generated(string model)
    {
        using var client = _app.CreateClient();
        const string tools = """
            "tools":[{"type":"function","name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}]}
            """;
        var body = "{\"model\":\"" + model + "\",\"stream\":true,\"input\":\"Weather in Paris?\"," + tools;
        using var response = await client.PostAsync("/v1/responses", new StringContent(body, Encoding.UTF8, "application/json"), Cancel);
        var text = await response.Content.ReadAsStringAsync(Cancel);
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);

        var events = text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries)
            .Select(e => JsonDocument.Parse(e.Split('\n').Single(line => line.StartsWith("data: ", StringComparison.Ordinal))["data: ".Length..]).RootElement)
            .ToList();
        var deltas = events.Where(e => e.GetProperty("type").GetString() == "response.function_call_arguments.delta").ToList();
        Assert.True(deltas.Count > 1, $"the arguments came in {deltas.Count} delta(s): {text}");
        var arguments = string.Concat(deltas.Select(d => d.GetProperty("delta").GetString()));
        using var parsed = JsonDocument.Parse(arguments);
        Assert.Equal("Paris", parsed.RootElement.GetProperty("city").GetString());
        var done = Assert.Single(events, e => e.GetProperty("type").GetString() == "response.function_call_arguments.done");
        Assert.Equal(arguments, done.GetProperty("arguments").GetString());
        var added = Assert.Single(events, e => e.GetProperty("type").GetString() == "response.output_item.added");
        Assert.Equal("get_weather", added.GetProperty("item").GetProperty("name").GetString());
        Assert.All(deltas, d => Assert.Equal(added.GetProperty("item").GetProperty("id").GetString(), d.GetProperty("item_id").GetString()));
        var completed = events[^1];
        Assert.Equal("response.completed", completed.GetProperty("type").GetString());
        var item = Assert.Single(completed.GetProperty("response").GetProperty("output").EnumerateArray());
        Assert.Equal((arguments, "completed"), (item.GetProperty("arguments").GetString(), item.GetProperty("status").GetString()));
    }

    [Fact]
    public async Task A_call_cut_off_while_its_arguments_stream_is_incomplete_and_its_conversation_goes_on()
    {
        // Cut inside the arguments: the model has written `"arguments": {"` and not their end.
        var pieces = GeneratedModels.PiecesOf(GeneratedModels.ToolCallReply);
        var written = "";
        var cut = 0;
        while (!written.Contains("\"arguments\": {\"", StringComparison.Ordinal))
        {
            written += pieces[cut++];
        }
        Assert.DoesNotContain("}}", written);
        using var client = _app.CreateClient();
        const string tools = """
            "tools":[{"type":"function","name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}]}
            """;
        var body = "{\"model\":\"tools\",\"stream\":true,\"store\":true,\"input\":\"Weather in Paris?\",\"max_output_tokens\":"
            + cut.ToString(System.Globalization.CultureInfo.InvariantCulture) + "," + tools;
        using var response = await client.PostAsync("/v1/responses", new StringContent(body, Encoding.UTF8, "application/json"), Cancel);
        var text = await response.Content.ReadAsStringAsync(Cancel);
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);

        var final = JsonDocument.Parse(text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries)[^1].Split('\n')
            .Single(line => line.StartsWith("data: ", StringComparison.Ordinal))["data: ".Length..]).RootElement.GetProperty("response");
        Assert.Equal("incomplete", final.GetProperty("status").GetString());
        var call = final.GetProperty("output")[0];
        Assert.Equal(("function_call", "incomplete"), (call.GetProperty("type").GetString(), call.GetProperty("status").GetString()));
        Assert.StartsWith("{\"", call.GetProperty("arguments").GetString());
        // No call was made: the next turn goes on from the stored conversation without it.
        var next = "{\"model\":\"tools\",\"previous_response_id\":\"" + final.GetProperty("id").GetString() + "\",\"input\":\"Go on.\"}";
        using var second = await client.PostAsync("/v1/responses", new StringContent(next, Encoding.UTF8, "application/json"), Cancel);
        Assert.True(second.StatusCode == HttpStatusCode.OK, await second.Content.ReadAsStringAsync(Cancel));
    }

}
