using System.Text.Json;
using System.Text.Json.Nodes;
using LlmStack.Tests.Fixtures;

namespace LlmStack.Tests.Api.Responses;

/// <summary>
/// The official <c>openai</c> npm package (<c>client.responses.create</c>, streamed and not, retrieve, delete)
/// against the API serving generated models. Each test runs one scenario of <c>Node/responses.mjs</c> and checks
/// what that client observed; the build restores its node_modules with <c>npm ci</c> from the lock file.
/// </summary>
public sealed class ResponsesNodeSdkTests(ResponsesServer server) : IClassFixture<ResponsesServer>
{
    private static readonly int ScriptedPieces = GeneratedModels.PiecesOf(GeneratedModels.ScriptedReply).Count;

    [Fact]
    public async Task Create_returns_the_reply_as_output_text_with_usage()
    {
        var result = await RunAsync("create");

        Assert.Equal(GeneratedModels.ScriptedReply, result.GetProperty("output_text").GetString());
        Assert.Equal("completed", result.GetProperty("status").GetString());
        Assert.Equal("message", result.GetProperty("output")[0].GetProperty("type").GetString());
        var usage = result.GetProperty("usage");
        Assert.Equal(ScriptedPieces, usage.GetProperty("output_tokens").GetInt32());
        Assert.Equal(usage.GetProperty("input_tokens").GetInt32() + ScriptedPieces, usage.GetProperty("total_tokens").GetInt32());
    }

    [Fact]
    public async Task Stream_events_arrive_in_order_and_deltas_make_the_reply()
    {
        var result = await RunAsync("stream");

        var types = result.GetProperty("types").EnumerateArray().Select(t => t.GetString()).ToList();
        Assert.Equal(["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added"], types.Take(4));
        Assert.Equal(["response.output_text.done", "response.content_part.done", "response.output_item.done", "response.completed"], types.TakeLast(4));
        Assert.Equal(ScriptedPieces, types.Count(t => t == "response.output_text.delta"));
        Assert.Equal(Enumerable.Range(0, types.Count), result.GetProperty("sequence").EnumerateArray().Select(s => s.GetInt32()));
        Assert.Equal(GeneratedModels.ScriptedReply, result.GetProperty("text").GetString());
        Assert.Equal(GeneratedModels.ScriptedReply, result.GetProperty("final_text").GetString());
        Assert.Equal(ScriptedPieces, result.GetProperty("usage").GetProperty("output_tokens").GetInt32());
    }

    [Fact]
    public async Task Max_output_tokens_makes_an_incomplete_response()
    {
        var result = await RunAsync("length");

        Assert.Equal("incomplete", result.GetProperty("status").GetString());
        Assert.Equal("max_output_tokens", result.GetProperty("incomplete_details").GetProperty("reason").GetString());
        Assert.Equal(string.Concat(GeneratedModels.PiecesOf(GeneratedModels.LoopingReply).Take(5)), result.GetProperty("output_text").GetString());
        Assert.Equal(5, result.GetProperty("usage").GetProperty("output_tokens").GetInt32());
    }

    [Fact]
    public async Task Function_call_round_trip_goes_back_by_previous_response_id()
    {
        var result = await RunAsync("functionCall");

        var call = result.GetProperty("call");
        Assert.Equal("get_weather", call.GetProperty("name").GetString());
        // The arguments are the model's own text as it generated them (streamed as they are written), as OpenAI sends them.
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"city":"Paris"}"""), JsonNode.Parse(call.GetProperty("arguments").GetString()!)),
            call.GetProperty("arguments").GetString());
        Assert.False(string.IsNullOrEmpty(call.GetProperty("call_id").GetString()));
        Assert.StartsWith("resp_", result.GetProperty("second_previous").GetString());
        Assert.True(result.GetProperty("second_usage").GetProperty("input_tokens").GetInt32() > result.GetProperty("first_usage").GetProperty("input_tokens").GetInt32());
    }

    [Fact]
    public async Task Previous_response_id_continues_the_conversation()
    {
        var result = await RunAsync("continued");

        var first = result.GetProperty("first_usage");
        var second = result.GetProperty("second_usage");
        Assert.Equal(GeneratedModels.ScriptedReply, result.GetProperty("second_text").GetString());
        Assert.True(second.GetProperty("input_tokens").GetInt32() > first.GetProperty("input_tokens").GetInt32() + first.GetProperty("output_tokens").GetInt32());
        Assert.True(second.GetProperty("input_tokens_details").GetProperty("cached_tokens").GetInt32() >= first.GetProperty("input_tokens").GetInt32());
    }

    [Fact]
    public async Task Retrieve_then_delete_then_retrieve_is_not_found()
    {
        var result = await RunAsync("retrieveAndDelete");

        Assert.Equal(result.GetProperty("created_id").GetString(), result.GetProperty("retrieved_id").GetString());
        Assert.Equal(GeneratedModels.ScriptedReply, result.GetProperty("retrieved_text").GetString());
        var error = result.GetProperty("after_delete");
        Assert.Equal("NotFoundError", error.GetProperty("name").GetString());
        Assert.Equal(404, error.GetProperty("status").GetInt32());
    }

    [Fact]
    public async Task Errors_are_the_sdk_error_classes_with_their_status()
    {
        var result = await RunAsync("errors");

        Assert.Equal(("NotFoundError", 404), Error(result, "unknown_model"));
        Assert.Equal(("BadRequestError", 400), Error(result, "built_in_tool"));
        Assert.Contains("web_search", result.GetProperty("built_in_tool").GetProperty("message").GetString());
        Assert.Equal(("BadRequestError", 400), Error(result, "stream_refused"));
        Assert.Equal("context_length_exceeded", result.GetProperty("stream_refused").GetProperty("code").GetString());

        static (string?, int) Error(JsonElement result, string name) =>
            (result.GetProperty(name).GetProperty("name").GetString(), result.GetProperty(name).GetProperty("status").GetInt32());
    }

    private Task<JsonElement> RunAsync(string scenario) => NodeClient.RunAsync("responses.mjs", scenario, server.App.OpenAIEndpoint);
}
