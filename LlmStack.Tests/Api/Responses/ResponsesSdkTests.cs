using System.ClientModel;
using System.ClientModel.Primitives;
using System.Text;
using System.Text.Json;
using LlmStack.Api.Configuration;
using LlmStack.Api.Pipeline;
using LlmStack.Tests.Fixtures;
using OpenAI.Responses;

#pragma warning disable OPENAI001 // The SDK marks its Responses client experimental; it is what clients use.

namespace LlmStack.Tests.Api.Responses;

/// <summary>
/// The official OpenAI .NET SDK's Responses client, over real HTTP, against the API serving generated GGUF models
/// through real llama.cpp inference.
/// </summary>
public sealed class ResponsesSdkTests(ResponsesServer server) : IClassFixture<ResponsesServer>
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private ResponsesClient Client => server.ResponsesClient();

    [Fact]
    public async Task Response_text_is_the_model_reply_with_consistent_usage()
    {
        var response = (await Client.CreateResponseAsync("scripted", "Hi!", cancellationToken: Cancel)).Value;

        Assert.Equal(GeneratedModels.ScriptedReply, response.GetOutputText());
        Assert.Equal(ResponseStatus.Completed, response.Status);
        Assert.Equal("scripted", response.Model);
        Assert.StartsWith("resp_", response.Id);
        var message = Assert.IsAssignableFrom<MessageResponseItem>(Assert.Single(response.OutputItems));
        Assert.Equal(MessageRole.Assistant, message.Role);
        Assert.Equal(GeneratedModels.PiecesOf(GeneratedModels.ScriptedReply).Count, response.Usage.OutputTokenCount);
        Assert.True(response.Usage.InputTokenCount > 0);
        Assert.Equal(response.Usage.InputTokenCount + response.Usage.OutputTokenCount, response.Usage.TotalTokenCount);
    }

    [Fact]
    public async Task Stream_deltas_concatenate_to_the_reply_and_end_with_the_completed_response()
    {
        var text = new StringBuilder();
        var updates = new List<StreamingResponseUpdate>();
        await foreach (var update in await Client.CreateResponseStreamingAsync("scripted", "Hi!", cancellationToken: Cancel))
        {
            updates.Add(update);
            if (update is StreamingResponseOutputTextDeltaUpdate delta)
            {
                text.Append(delta.Delta);
            }
        }

        Assert.Equal(GeneratedModels.ScriptedReply, text.ToString());
        Assert.IsType<StreamingResponseCreatedUpdate>(updates[0]);
        Assert.Equal(Enumerable.Range(0, updates.Count), updates.Select(u => u.SequenceNumber));
        var completed = Assert.IsType<StreamingResponseCompletedUpdate>(updates[^1]).Response;
        Assert.Equal(GeneratedModels.ScriptedReply, completed.GetOutputText());
        Assert.Equal(GeneratedModels.PiecesOf(GeneratedModels.ScriptedReply).Count, completed.Usage.OutputTokenCount);
    }

    [Fact]
    public async Task Max_output_tokens_cuts_the_reply_and_says_so()
    {
        var options = new CreateResponseOptions("looping", [ResponseItem.CreateUserMessageItem("Go on")]) { MaxOutputTokenCount = 5 };

        var response = (await Client.CreateResponseAsync(options, Cancel)).Value;
        options.StreamingEnabled = true;
        var updates = new List<StreamingResponseUpdate>();
        await foreach (var update in await Client.CreateResponseStreamingAsync(options, Cancel))
        {
            updates.Add(update);
        }

        Assert.Equal(ResponseStatus.Incomplete, response.Status);
        Assert.Equal(ResponseIncompleteStatusReason.MaxOutputTokens, response.IncompleteStatusDetails.Reason);
        Assert.Equal(5, response.Usage.OutputTokenCount);
        Assert.Equal(string.Concat(GeneratedModels.PiecesOf(GeneratedModels.LoopingReply).Take(5)), response.GetOutputText());
        var incomplete = Assert.IsType<StreamingResponseIncompleteUpdate>(updates[^1]).Response;
        Assert.Equal(ResponseIncompleteStatusReason.MaxOutputTokens, incomplete.IncompleteStatusDetails.Reason);
    }

    [Fact]
    public async Task Function_call_round_trip_continues_with_the_result()
    {
        var weather = ResponseTool.CreateFunctionTool("get_weather",
            BinaryData.FromString("""{"type":"object","properties":{"city":{"type":"string"}},"required":["city"],"additionalProperties":false}"""),
            strictModeEnabled: true, functionDescription: "Current weather of a city");
        var options = new CreateResponseOptions("tools", [ResponseItem.CreateUserMessageItem("Weather in Paris?")]) { Tools = { weather } };

        var first = (await Client.CreateResponseAsync(options, Cancel)).Value;
        var call = Assert.IsType<FunctionCallResponseItem>(Assert.Single(first.OutputItems));
        Assert.Equal("get_weather", call.FunctionName);
        Assert.False(string.IsNullOrEmpty(call.CallId));
        using (var arguments = JsonDocument.Parse(call.FunctionArguments))
        {
            Assert.Equal("Paris", arguments.RootElement.GetProperty("city").GetString());
        }

        // The result goes back by previous_response_id, as agents send it.
        var next = new CreateResponseOptions("tools", [ResponseItem.CreateFunctionCallOutputItem(call.CallId, """{"temperature_c":18}""")])
        {
            PreviousResponseId = first.Id,
            Tools = { weather },
        };
        var second = (await Client.CreateResponseAsync(next, Cancel)).Value;

        Assert.Equal(first.Id, second.PreviousResponseId);
        Assert.True(second.Usage.InputTokenCount > first.Usage.InputTokenCount, "the call and its result are part of the second prompt");
    }

    [Fact]
    public async Task Previous_response_id_continues_the_conversation_from_the_cached_prompt()
    {
        var first = (await Client.CreateResponseAsync("scripted", "Hi!", cancellationToken: Cancel)).Value;
        var next = new CreateResponseOptions("scripted", [ResponseItem.CreateUserMessageItem("Tell me more.")]) { PreviousResponseId = first.Id };

        var second = (await Client.CreateResponseAsync(next, Cancel)).Value;

        Assert.Equal(GeneratedModels.ScriptedReply, second.GetOutputText());
        Assert.True(second.Usage.InputTokenCount > first.Usage.InputTokenCount + first.Usage.OutputTokenCount,
            "the second prompt holds the first question, its answer and the new question");
        // The embedded engine kept the first turn's KV cache: only the new part of the prompt is computed.
        Assert.True(second.Usage.InputTokenDetails.CachedTokenCount >= first.Usage.InputTokenCount,
            $"cached {second.Usage.InputTokenDetails.CachedTokenCount} of {second.Usage.InputTokenCount}; the first prompt had {first.Usage.InputTokenCount}");
    }

    [Fact]
    public async Task Stored_response_is_read_and_deleted()
    {
        var created = (await Client.CreateResponseAsync("scripted", "Hi!", cancellationToken: Cancel)).Value;

        var read = (await Client.GetResponseAsync(created.Id, Cancel)).Value;
        var deleted = (await Client.DeleteResponseAsync(created.Id, Cancel)).Value;
        var gone = await Assert.ThrowsAsync<ClientResultException>(() => Client.GetResponseAsync(created.Id, Cancel));

        Assert.Equal(created.Id, read.Id);
        Assert.Equal(GeneratedModels.ScriptedReply, read.GetOutputText());
        Assert.True(deleted.Deleted);
        Assert.Equal(created.Id, deleted.ResponseId);
        Assert.Equal(404, gone.Status);
    }

    [Fact]
    public async Task Errors_are_sdk_exceptions_with_their_status()
    {
        var unknownModel = await Assert.ThrowsAsync<ClientResultException>(() => Client.CreateResponseAsync("no-such-model", "Hi!", cancellationToken: Cancel));
        var builtInTool = await Assert.ThrowsAsync<ClientResultException>(() => Client.CreateResponseAsync(
            new CreateResponseOptions("scripted", [ResponseItem.CreateUserMessageItem("Search")]) { Tools = { ResponseTool.CreateWebSearchTool() } }, Cancel));
        var tooLong = await Assert.ThrowsAsync<ClientResultException>(() => Client.CreateResponseAsync("small-context", new string('x', 2000), cancellationToken: Cancel));

        Assert.Equal(404, unknownModel.Status);
        Assert.Equal(400, builtInTool.Status);
        Assert.Contains("web_search", builtInTool.Message);
        Assert.Equal(400, tooLong.Status);
        Assert.Contains("context length", tooLong.Message);
    }
}

/// <summary>One API serving the scripted, looping, tool-calling and small-context models on the embedded backend.</summary>
public sealed class ResponsesServer(GeneratedModels models) : IAsyncLifetime
{
    public ApiApplication App { get; private set; } = null!;

    /// <summary>The SDK's Responses client for the API under test: no retries (a retried error would hide its status and take seconds).</summary>
    public ResponsesClient ResponsesClient() => new(new ApiKeyCredential("unused"), new ResponsesClientOptions
    {
        Endpoint = App.OpenAIEndpoint,
        RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
        NetworkTimeout = TimeSpan.FromMinutes(1),
    });

    public ValueTask InitializeAsync()
    {
        App = new ApiApplication(
        [
            new ModelOptions { Id = "scripted", Backend = "embedded", Path = models.Scripted },
            new ModelOptions { Id = "looping", Backend = "embedded", Path = models.Looping },
            new ModelOptions { Id = "tools", Backend = "embedded", Path = models.ToolCalling },
            new ModelOptions { Id = "small-context", Backend = "embedded", Path = models.Scripted, Embedded = new() { ContextSize = 128 } },
        ]);
        _ = App.BaseAddress;
        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync() => App.DisposeAsync();
}
