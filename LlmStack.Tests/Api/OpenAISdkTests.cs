using System.ClientModel;
using System.ClientModel.Primitives;
using System.Text.Json;
using LlmStack.Api.Configuration;
using LlmStack.Api.Pipeline;
using LlmStack.Tests.Fixtures;
using OpenAI;
using OpenAI.Chat;

namespace LlmStack.Tests.Api;

/// <summary>
/// The official OpenAI .NET SDK, over real HTTP, against the API serving generated GGUF models through real
/// llama.cpp inference: what any OpenAI client would see.
/// </summary>
public sealed class OpenAISdkTests(OpenAISdkTests.Server server) : IClassFixture<OpenAISdkTests.Server>
{
    private static readonly IReadOnlyList<string> ReplyPieces = GeneratedModels.PiecesOf(GeneratedModels.ScriptedReply);

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Completion_is_the_model_reply_with_consistent_usage()
    {
        var completion = (await server.Chat("scripted").CompleteChatAsync([new UserChatMessage("Hi!")], cancellationToken: Cancel)).Value;

        Assert.Equal(GeneratedModels.ScriptedReply, Assert.Single(completion.Content).Text);
        Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);
        Assert.Equal(ChatMessageRole.Assistant, completion.Role);
        Assert.Equal("scripted", completion.Model);
        Assert.Equal(ReplyPieces.Count, completion.Usage.OutputTokenCount);
        Assert.True(completion.Usage.InputTokenCount > 0);
        Assert.Equal(completion.Usage.InputTokenCount + completion.Usage.OutputTokenCount, completion.Usage.TotalTokenCount);
    }

    [Fact]
    public async Task Logprobs_and_top_logprobs_reach_the_sdk_streamed_or_not()
    {
        var options = new ChatCompletionOptions { IncludeLogProbabilities = true, TopLogProbabilityCount = 2, Temperature = 0, MaxOutputTokenCount = 6 };
        var completion = (await server.Chat("scripted").CompleteChatAsync([new UserChatMessage("Hi!")], options, Cancel)).Value;
        var streamed = new List<ChatTokenLogProbabilityDetails>();
        await foreach (var update in server.Chat("scripted").CompleteChatStreamingAsync([new UserChatMessage("Hi!")], options, Cancel))
        {
            streamed.AddRange(update.ContentTokenLogProbabilities);
        }

        var tokens = completion.ContentTokenLogProbabilities;
        Assert.Equal(6, tokens.Count);
        Assert.Equal(Assert.Single(completion.Content).Text, string.Concat(tokens.Select(t => t.Token)));
        Assert.All(tokens, token =>
        {
            Assert.True(token.LogProbability <= 0);
            Assert.Equal(2, token.TopLogProbabilities.Count);
            // Greedy: the chosen token is the most likely one.
            Assert.Equal(token.Token, token.TopLogProbabilities[0].Token);
            Assert.Equal(System.Text.Encoding.UTF8.GetBytes(token.Token), token.Utf8Bytes!.Value.ToArray());
        });
        Assert.Equal(tokens.Select(t => t.Token), streamed.Select(t => t.Token));
    }

    [Fact]
    public async Task Stream_concatenates_to_the_model_reply_and_ends_with_usage()
    {
        var text = new System.Text.StringBuilder();
        var updates = new List<StreamingChatCompletionUpdate>();
        await foreach (var update in server.Chat("scripted").CompleteChatStreamingAsync([new UserChatMessage("Hi!")], cancellationToken: Cancel))
        {
            updates.Add(update);
            foreach (var part in update.ContentUpdate)
            {
                text.Append(part.Text);
            }
        }

        Assert.Equal(GeneratedModels.ScriptedReply, text.ToString());
        Assert.Single(updates.Select(u => u.CompletionId).Distinct());
        Assert.Equal(ChatFinishReason.Stop, Assert.Single(updates, u => u.FinishReason is not null).FinishReason);
        // The SDK asks for usage; it arrives last, in the chunk without choices.
        var usage = updates[^1].Usage;
        Assert.NotNull(usage);
        Assert.Equal(ReplyPieces.Count, usage.OutputTokenCount);
        Assert.Equal(usage.InputTokenCount + usage.OutputTokenCount, usage.TotalTokenCount);
    }

    [Fact]
    public async Task Max_output_tokens_finishes_with_length()
    {
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 3 };

        var completion = (await server.Chat("scripted").CompleteChatAsync([new UserChatMessage("Hi!")], options, Cancel)).Value;

        Assert.Equal(ChatFinishReason.Length, completion.FinishReason);
        Assert.Equal(3, completion.Usage.OutputTokenCount);
        Assert.Equal(string.Concat(ReplyPieces.Take(3)), completion.Content[0].Text);
    }

    [Fact]
    public async Task Stop_sequence_ends_the_reply_before_it()
    {
        var options = new ChatCompletionOptions { StopSequences = { "llama.cpp" } };

        var completion = (await server.Chat("scripted").CompleteChatAsync([new UserChatMessage("Hi!")], options, Cancel)).Value;

        Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);
        var expected = GeneratedModels.ScriptedReply[..GeneratedModels.ScriptedReply.IndexOf("llama.cpp", StringComparison.Ordinal)];
        Assert.Equal(expected, completion.Content[0].Text);
    }

    [Fact]
    public async Task Errors_surface_as_client_exceptions_with_their_status()
    {
        var unknownModel = await Assert.ThrowsAsync<ClientResultException>(() =>
            server.Chat("no-such-model").CompleteChatAsync([new UserChatMessage("Hi!")], cancellationToken: Cancel));
        var badTemperature = await Assert.ThrowsAsync<ClientResultException>(() =>
            server.Chat("scripted").CompleteChatAsync([new UserChatMessage("Hi!")], new ChatCompletionOptions { Temperature = 3 }, Cancel));

        Assert.Equal(404, unknownModel.Status);
        Assert.Contains("no-such-model", unknownModel.Message);
        Assert.Equal(400, badTemperature.Status);
        Assert.Contains("temperature", badTemperature.Message);
    }

    [Fact]
    public async Task Prompt_longer_than_the_context_is_a_400_context_length_exceeded()
    {
        var longPrompt = string.Join(' ', Enumerable.Repeat("Tell me everything about llamas.", 100));

        var error = await Assert.ThrowsAsync<ClientResultException>(() =>
            server.Chat("small-context").CompleteChatAsync([new UserChatMessage(longPrompt)], cancellationToken: Cancel));

        Assert.Equal(400, error.Status);
        Assert.Contains("context_length_exceeded", error.Message);
    }

    [Fact]
    public async Task Tool_call_round_trip()
    {
        var weather = ChatTool.CreateFunctionTool("get_weather", "Current weather in a city",
            BinaryData.FromString("""{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}"""));
        var options = new ChatCompletionOptions { Tools = { weather } };
        List<ChatMessage> conversation = [new UserChatMessage("What is the weather in Paris?")];
        var chat = server.Chat("tools");

        var first = (await chat.CompleteChatAsync(conversation, options, Cancel)).Value;

        Assert.Equal(ChatFinishReason.ToolCalls, first.FinishReason);
        var call = Assert.Single(first.ToolCalls);
        Assert.Equal("get_weather", call.FunctionName);
        Assert.False(string.IsNullOrEmpty(call.Id));
        using (var arguments = JsonDocument.Parse(call.FunctionArguments))
        {
            Assert.Equal("Paris", arguments.RootElement.GetProperty("city").GetString());
        }

        // The call and its result go back in the conversation, as a client that runs tools sends them.
        conversation.Add(new AssistantChatMessage(first));
        conversation.Add(new ToolChatMessage(call.Id, """{"temperature_c":18}"""));
        var second = (await chat.CompleteChatAsync(conversation, options, Cancel)).Value;

        Assert.True(second.Usage.InputTokenCount > first.Usage.InputTokenCount, "the tool result is part of the second prompt");
    }

    /// <summary>One API serving the scripted, looping and tool-calling models on the embedded backend.</summary>
    [Fact]
    public async Task Embeddings_come_from_the_embedded_model_normalised_and_deterministic()
    {
        var client = new OpenAI.Embeddings.EmbeddingClient("scripted", new ApiKeyCredential("unused"), Server.ClientOptions(server.App));

        var first = (await client.GenerateEmbeddingsAsync(["red fox", "a lazy dog sleeps", "red fox"], cancellationToken: Cancel)).Value;

        Assert.Equal(3, first.Count);
        var vectors = first.Select(e => e.ToFloats().ToArray()).ToList();
        Assert.All(vectors, v => Assert.Equal(1.0, Math.Sqrt(v.Sum(x => (double)x * x)), 3));
        Assert.Equal(vectors[0], vectors[2]);
        Assert.NotEqual(vectors[0], vectors[1]);
        Assert.True(first.Usage.InputTokenCount > 0);
    }

    public sealed class Server(GeneratedModels models) : IAsyncLifetime
    {
        public ApiApplication App { get; private set; } = null!;

        public ChatClient Chat(string model) => new(model, new ApiKeyCredential("unused"), ClientOptions(App));

        /// <summary>SDK options for the API under test: no retries (a retried error would hide its status and take seconds).</summary>
        public static OpenAIClientOptions ClientOptions(ApiApplication app) => new()
        {
            Endpoint = app.OpenAIEndpoint,
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
            NetworkTimeout = TimeSpan.FromMinutes(1),
        };

        public ValueTask InitializeAsync()
        {
            App = new ApiApplication(
            [
                new ModelOptions { Id = "scripted", Backend = "embedded", Path = models.Scripted },
                new ModelOptions { Id = "tools", Backend = "embedded", Path = models.ToolCalling },
                new ModelOptions { Id = "small-context", Backend = "embedded", Path = models.Scripted, Embedded = new() { ContextSize = 128 } },
            ]);
            _ = App.BaseAddress;
            return ValueTask.CompletedTask;
        }

        public ValueTask DisposeAsync() => App.DisposeAsync();
    }
}
