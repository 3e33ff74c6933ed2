using System.Diagnostics;
using System.Text.Json;
using LlmStack.Api.Backends.Embedded;
using LlmStack.Api.Configuration;
using LlmStack.Api.Errors;
using LlmStack.Api.Pipeline;
using LlmStack.Gguf;
using LlmStack.Tests.Fixtures;
using Microsoft.Extensions.AI;

namespace LlmStack.Tests.Backends.Embedded;

/// <summary>The embedded engine through <see cref="IChatClient"/>, with real llama.cpp inference on generated models.</summary>
public sealed class EmbeddedChatClientTests(GeneratedModels models)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    private static readonly IReadOnlyList<string> ScriptedPieces = ScriptedModel.Pieces(GeneratedModels.ScriptedReply);

    private static CancellationToken TestCancellation => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData(ModelShape.Qwen2)]
    [InlineData(ModelShape.Llama)]
    public async Task Reply_is_the_scripted_text_and_ends_at_end_of_turn(string architecture)
    {
        using var model = Load(architecture == ModelShape.Qwen2 ? models.Scripted : models.ScriptedLlama);

        var response = await model.Client.GetResponseAsync("What are you?", cancellationToken: TestCancellation).WaitAsync(Timeout, TestCancellation);

        Assert.Equal(GeneratedModels.ScriptedReply, response.Text);
        Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
        Assert.Equal(Path.GetFileNameWithoutExtension(architecture == ModelShape.Qwen2 ? models.Scripted : models.ScriptedLlama), response.ModelId);
    }

    [Fact]
    public async Task Stream_has_one_update_per_piece_then_usage_and_finish_reason()
    {
        using var model = Load(models.Scripted);

        var updates = await Collect(model.Client.GetStreamingResponseAsync("Stream please", cancellationToken: TestCancellation));

        var texts = updates.Where(u => u.Text.Length > 0).Select(u => u.Text).ToList();
        Assert.Equal(ScriptedPieces, texts);
        var last = updates[^1];
        Assert.Equal(ChatFinishReason.Stop, last.FinishReason);
        var usage = Assert.Single(last.Contents.OfType<UsageContent>()).Details;
        Assert.Equal(ScriptedPieces.Count, usage.OutputTokenCount);
    }

    [Fact]
    public async Task Character_split_over_two_tokens_streams_whole()
    {
        var path = Path.Combine(Path.GetTempPath(), $"llmstack-utf8-{Guid.NewGuid():N}.gguf");
        // "é" is the two bytes C3 A9, here two tokens of their own ("Ã" and "©" in byte-level form).
        ScriptedModel.Write(path, new ScriptedModelSpec("Café au lait") { Tokens = ["Caf", "Ã", "©", ByteLevelBpeVocabulary.Encode(" au lait")] });
        try
        {
            using var model = Load(path);

            var updates = await Collect(model.Client.GetStreamingResponseAsync("Coffee?", cancellationToken: TestCancellation));

            Assert.Equal(["Caf", "é", " au lait"], updates.Where(u => u.Text.Length > 0).Select(u => u.Text));
            Assert.Equal(4, updates[^1].Contents.OfType<UsageContent>().Single().Details.OutputTokenCount);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task Usage_counts_the_templated_prompt_and_every_generated_token()
    {
        using var model = Load(models.Scripted);
        using var context = model.Host.CreateContext();
        var expectedPrompt = "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHello there<|im_end|>\n<|im_start|>assistant\n";
        var expectedPromptTokens = context.Tokenize(expectedPrompt, addBos: false, special: true).Length;

        var response = await model.Client.GetResponseAsync(
            [new(ChatRole.System, "Be brief."), new(ChatRole.User, "Hello there")], cancellationToken: TestCancellation).WaitAsync(Timeout, TestCancellation);

        Assert.NotNull(response.Usage);
        Assert.Equal(expectedPromptTokens, response.Usage.InputTokenCount);
        Assert.Equal(ScriptedPieces.Count, response.Usage.OutputTokenCount);
        Assert.Equal(expectedPromptTokens + ScriptedPieces.Count, response.Usage.TotalTokenCount);
    }

    [Fact]
    public async Task Next_turn_of_a_conversation_reuses_the_cached_prompt()
    {
        using var model = Load(models.Scripted, parallelSlots: 1);
        List<ChatMessage> conversation = [new(ChatRole.User, "Hello there")];
        var first = await model.Client.GetResponseAsync(conversation, cancellationToken: TestCancellation).WaitAsync(Timeout, TestCancellation);
        conversation.AddRange(first.Messages);
        conversation.Add(new(ChatRole.User, "And then?"));

        var second = await model.Client.GetResponseAsync(conversation, cancellationToken: TestCancellation).WaitAsync(Timeout, TestCancellation);

        Assert.Equal(0, first.Usage?.CachedInputTokenCount);
        // Everything up to the first reply's start was computed already (the reply itself re-tokenizes differently).
        Assert.Equal(first.Usage?.InputTokenCount, second.Usage?.CachedInputTokenCount);
        Assert.Equal(GeneratedModels.ScriptedReply, second.Text);
    }

    [Fact]
    public async Task Reused_cache_gives_the_same_output_as_a_fresh_context()
    {
        var greedy = new ChatOptions { Temperature = 0, MaxOutputTokens = 40 };
        ChatMessage[] shared = [new(ChatRole.System, "You are random."), new(ChatRole.User, "Tell me a story about a cat")];
        ChatMessage[] longer = [.. shared, new(ChatRole.Assistant, "Once upon a time"), new(ChatRole.User, "Go on")];
        using var fresh = Load(models.Random);
        var expected = await fresh.Client.GetResponseAsync(longer, greedy, TestCancellation).WaitAsync(Timeout, TestCancellation);
        using var warmed = Load(models.Random, parallelSlots: 1);
        await warmed.Client.GetResponseAsync(shared, greedy, TestCancellation).WaitAsync(Timeout, TestCancellation);

        var reused = await warmed.Client.GetResponseAsync(longer, greedy, TestCancellation).WaitAsync(Timeout, TestCancellation);

        Assert.True(reused.Usage?.CachedInputTokenCount > 10, $"Only {reused.Usage?.CachedInputTokenCount} tokens reused.");
        Assert.Equal(expected.Text, reused.Text);
        Assert.Equal(40, reused.Usage?.OutputTokenCount);
    }

    [Fact]
    public async Task Max_output_tokens_ends_with_length_after_exactly_that_many_tokens()
    {
        using var model = Load(models.Scripted);

        var response = await model.Client.GetResponseAsync("Hi", new ChatOptions { MaxOutputTokens = 3 }, TestCancellation).WaitAsync(Timeout, TestCancellation);

        Assert.Equal(string.Concat(ScriptedPieces.Take(3)), response.Text);
        Assert.Equal(ChatFinishReason.Length, response.FinishReason);
        Assert.Equal(3, response.Usage?.OutputTokenCount);
    }

    [Fact]
    public async Task Stop_sequence_split_across_tokens_ends_the_reply_without_the_stop_text()
    {
        using var model = Load(models.Scripted);
        // "reply was" starts inside the piece " reply" and ends in the next one.
        var options = new ChatOptions { StopSequences = ["reply was", "never appears"] };

        var updates = await Collect(model.Client.GetStreamingResponseAsync("Hi", options, TestCancellation));

        var text = string.Concat(updates.Select(u => u.Text));
        Assert.Equal(GeneratedModels.ScriptedReply[..GeneratedModels.ScriptedReply.IndexOf("reply was", StringComparison.Ordinal)], text);
        Assert.Equal(ChatFinishReason.Stop, updates[^1].FinishReason);
    }

    [Fact]
    public async Task Sampling_settings_do_not_change_a_scripted_reply()
    {
        using var model = Load(models.Scripted);
        var options = new ChatOptions { Temperature = 1.8f, TopP = 1f, TopK = 1000, Seed = 99, FrequencyPenalty = 2f, PresencePenalty = 2f };

        var response = await model.Client.GetResponseAsync("Be creative", options, TestCancellation).WaitAsync(Timeout, TestCancellation);

        Assert.Equal(GeneratedModels.ScriptedReply, response.Text);
    }

    [Fact]
    public async Task Eight_concurrent_requests_all_complete_with_the_exact_reply()
    {
        using var model = Load(models.Scripted, parallelSlots: 4);

        var replies = await Task.WhenAll(Enumerable.Range(0, 8).Select(i =>
            model.Client.GetResponseAsync($"Request {i}", cancellationToken: TestCancellation))).WaitAsync(Timeout, TestCancellation);

        Assert.All(replies, r => Assert.Equal(GeneratedModels.ScriptedReply, r.Text));
        Assert.Equal(4, model.Host.Scheduler.Free);
    }

    [Fact]
    public async Task Cancelling_an_endless_stream_frees_its_slot_for_the_next_request()
    {
        using var model = Load(models.Looping, parallelSlots: 1);
        using var cancellation = CancellationTokenSource.CreateLinkedTokenSource(TestCancellation);
        var received = 0;

        var stream = Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var update in model.Client.GetStreamingResponseAsync("Go on forever", cancellationToken: cancellation.Token))
            {
                if (++received == 20)
                {
                    await cancellation.CancelAsync();
                }
            }
        });
        await stream.WaitAsync(Timeout, TestCancellation);

        var started = Stopwatch.StartNew();
        await using var next = model.Client.GetStreamingResponseAsync("Next", new ChatOptions { MaxOutputTokens = 2 }, TestCancellation).GetAsyncEnumerator(TestCancellation);
        Assert.True(await next.MoveNextAsync().AsTask().WaitAsync(Timeout, TestCancellation));
        // A slot that was not freed would make this wait forever (the looping model never ends); milliseconds
        // are typical, 5 s leaves room for a loaded CI machine.
        Assert.InRange(started.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(5));
        Assert.Equal(20, received);
    }

    [Fact]
    public async Task Cancelled_waiter_leaves_the_queue_at_once()
    {
        using var model = Load(models.Looping, parallelSlots: 1);
        using var first = CancellationTokenSource.CreateLinkedTokenSource(TestCancellation);
        await using var busy = model.Client.GetStreamingResponseAsync("Hold the slot", cancellationToken: first.Token).GetAsyncEnumerator(first.Token);
        Assert.True(await busy.MoveNextAsync().AsTask().WaitAsync(Timeout, TestCancellation));
        using var second = CancellationTokenSource.CreateLinkedTokenSource(TestCancellation);

        var waiting = model.Client.GetResponseAsync("Wait for a slot", cancellationToken: second.Token);
        await WaitUntil(() => model.Host.Scheduler.Queued == 1);
        await second.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WaitAsync(TimeSpan.FromSeconds(5), TestCancellation));
        Assert.Equal(0, model.Host.Scheduler.Queued);
        await first.CancelAsync();
    }

    [Fact]
    public async Task Prompt_longer_than_the_context_is_refused_and_the_model_serves_afterwards()
    {
        using var model = Load(models.Scripted, contextSize: 256);
        var longPrompt = string.Join(' ', Enumerable.Repeat("overflowing", 300));

        var error = await Assert.ThrowsAsync<ApiErrorException>(() => model.Client.GetResponseAsync(longPrompt, cancellationToken: TestCancellation).WaitAsync(Timeout, TestCancellation));

        Assert.Equal("context_length_exceeded", error.Code);
        Assert.Equal(400, error.StatusCode);
        Assert.Contains("256 tokens", error.Message, StringComparison.Ordinal);
        var response = await model.Client.GetResponseAsync("Short", cancellationToken: TestCancellation).WaitAsync(Timeout, TestCancellation);
        Assert.Equal(GeneratedModels.ScriptedReply, response.Text);
        Assert.Equal(model.Host.Scheduler.Capacity, model.Host.Scheduler.Free);
    }

    [Fact]
    public async Task Generation_that_fills_the_context_ends_with_length()
    {
        using var model = Load(models.Looping, contextSize: 256);

        var response = await model.Client.GetResponseAsync("Go", cancellationToken: TestCancellation).WaitAsync(Timeout, TestCancellation);

        Assert.Equal(ChatFinishReason.Length, response.FinishReason);
        Assert.Equal(256, response.Usage?.TotalTokenCount);
    }

    [Fact]
    public async Task Json_mode_yields_a_parseable_object_even_from_random_weights()
    {
        using var model = Load(models.Random);
        // JSON mode bounds nothing: a random model ends its object by chance, as it does with this seed.
        var options = new ChatOptions { ResponseFormat = ChatResponseFormat.Json, Seed = 14, MaxOutputTokens = 1000 };

        var response = await model.Client.GetResponseAsync("Give me JSON", options, TestCancellation).WaitAsync(Timeout, TestCancellation);

        Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
        using var json = JsonDocument.Parse(response.Text);
        Assert.Equal(JsonValueKind.Object, json.RootElement.ValueKind);
    }

    [Fact]
    public async Task Tool_call_in_the_output_becomes_a_function_call()
    {
        using var model = Load(models.ToolCalling);
        var options = new ChatOptions { Tools = [AIFunctionFactory.Create((string city) => $"Sunny in {city}", "get_weather", "Current weather of a city")] };

        var response = await model.Client.GetResponseAsync("Weather in Paris?", options, TestCancellation).WaitAsync(Timeout, TestCancellation);

        Assert.Equal(ChatFinishReason.ToolCalls, response.FinishReason);
        var call = Assert.Single(response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>());
        Assert.Equal("get_weather", call.Name);
        Assert.Equal("Paris", Assert.IsType<JsonElement>(call.Arguments?["city"]).GetString());
        Assert.Equal("", response.Text);
    }

    [Fact]
    public async Task Required_tool_choice_forces_a_call_even_from_random_weights()
    {
        using var model = Load(models.Random);
        var options = new ChatOptions
        {
            Tools = [AIFunctionFactory.Create((string city) => "", "get_weather"), AIFunctionFactory.Create((int n) => "", "roll_dice")],
            ToolMode = ChatToolMode.RequireSpecific("roll_dice"),
            Seed = 4,
            MaxOutputTokens = 2000,
        };

        var response = await model.Client.GetResponseAsync("Anything", options, TestCancellation).WaitAsync(Timeout, TestCancellation);

        Assert.Equal(ChatFinishReason.ToolCalls, response.FinishReason);
        Assert.Equal("roll_dice", Assert.Single(response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>()).Name);
    }

    [Fact]
    public async Task Without_tools_a_tool_call_stays_text()
    {
        using var model = Load(models.ToolCalling);

        var response = await model.Client.GetResponseAsync("Weather in Paris?", cancellationToken: TestCancellation).WaitAsync(Timeout, TestCancellation);

        Assert.Equal(GeneratedModels.ToolCallReply, response.Text);
        Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
    }

    private static LoadedModel Load(string path, int? parallelSlots = null, int? contextSize = null) =>
        LoadedModel.Load(path, parallelSlots, contextSize);

    private static async Task<List<ChatResponseUpdate>> Collect(IAsyncEnumerable<ChatResponseUpdate> stream)
    {
        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in stream.WithCancellation(TestCancellation))
        {
            updates.Add(update);
        }
        return updates;
    }

    // Polls state that has no event to await (the queue length); bounded like every wait here.
    private static async Task WaitUntil(Func<bool> condition)
    {
        var deadline = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(deadline.Elapsed < Timeout, "The condition did not become true in time.");
            await Task.Delay(5, TestCancellation);
        }
    }
}
