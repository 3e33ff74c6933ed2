using System.Text.Json;
using LlmStack.Api.Backends.Embedded;
using LlmStack.Api.Configuration;
using LlmStack.Api.Errors;
using LlmStack.Api.Models;
using LlmStack.Api.Pipeline;
using LlmStack.Gguf;
using LlmStack.Tests.Fixtures;
using Microsoft.Extensions.AI;

namespace LlmStack.Tests.Backends.Embedded;

/// <summary>
/// The batch scheduler under concurrency, with real llama.cpp inference on generated models: every request of a
/// model shares one context and one decode per step, yet each keeps its own reply, sampling, grammar and limits.
/// </summary>
public sealed class ContinuousBatchingTests(GeneratedModels models)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private static readonly IReadOnlyList<string> LoopPieces = ScriptedModel.Pieces(GeneratedModels.LoopingReply);

    private static CancellationToken TestCancellation => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Sixteen_scripted_requests_at_once_each_get_the_exact_reply_in_shared_decode_steps()
    {
        using var model = Load(models.Scripted, slots: 8);

        var replies = await Task.WhenAll(Enumerable.Range(0, 16).Select(i =>
            model.Client.GetResponseAsync($"Request number {i}", cancellationToken: TestCancellation))).WaitAsync(Timeout, TestCancellation);

        Assert.All(replies, reply =>
        {
            Assert.Equal(GeneratedModels.ScriptedReply, reply.Text);
            Assert.Equal(ChatFinishReason.Stop, reply.FinishReason);
        });
        // One context per request would need a decode per token (plus the prompts); batching shares the steps.
        var tokens = replies.Sum(r => (long)r.Usage!.OutputTokenCount!.Value);
        Assert.True(model.Host.Scheduler.Steps < tokens / 2, $"{model.Host.Scheduler.Steps} decode steps for {tokens} output tokens");
        Assert.Equal(model.Host.Scheduler.Capacity, model.Host.Scheduler.Free);
    }

    [Fact]
    public async Task Each_sequence_samples_with_its_own_seed_and_settings_in_one_batch()
    {
        using var model = Load(models.Random, slots: 6);
        ChatOptions Options(long seed, float temperature, float topP) =>
            new() { Seed = seed, Temperature = temperature, TopP = topP, MaxOutputTokens = 24 };
        var requests = new[]
        {
            Options(1, 1.5f, 1f), Options(1, 1.5f, 1f),
            Options(2, 1.5f, 1f), Options(2, 1.5f, 1f),
            Options(3, 0f, 1f), Options(3, 0.9f, 0.3f),
        };

        var replies = await Task.WhenAll(requests.Select(options =>
            model.Client.GetResponseAsync("Say something random", options, TestCancellation))).WaitAsync(Timeout, TestCancellation);

        // Same prompt, seed and settings: the same text, though both shared every step with other sequences.
        Assert.Equal(replies[0].Text, replies[1].Text);
        Assert.Equal(replies[2].Text, replies[3].Text);
        // Another seed at a high temperature takes another path through a random model's vocabulary.
        Assert.NotEqual(replies[0].Text, replies[2].Text);
        Assert.All(replies, reply => Assert.InRange(reply.Usage!.OutputTokenCount!.Value, 1, 24));
    }

    [Fact]
    public async Task Json_mode_request_batched_with_free_text_still_gets_a_json_object()
    {
        using var model = Load(models.Random, slots: 4);
        var json = model.Client.GetResponseAsync("Give me JSON",
            // JSON mode bounds nothing: a random model ends its object by chance, as it does with this seed.
            new ChatOptions { ResponseFormat = ChatResponseFormat.Json, Seed = 14, MaxOutputTokens = 1000 }, TestCancellation);
        var free = Enumerable.Range(0, 3).Select(i => model.Client.GetResponseAsync($"Chat freely {i}",
            new ChatOptions { Seed = i, Temperature = 1f, MaxOutputTokens = 40 }, TestCancellation)).ToList();

        var response = await json.WaitAsync(Timeout, TestCancellation);
        var others = await Task.WhenAll(free).WaitAsync(Timeout, TestCancellation);

        Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
        using var document = JsonDocument.Parse(response.Text);
        Assert.Equal(JsonValueKind.Object, document.RootElement.ValueKind);
        // The grammar is the JSON request's alone: the free-text replies are not held to it.
        Assert.Contains(others, reply => !reply.Text.TrimStart().StartsWith('{'));
    }

    [Fact]
    public async Task Cancelling_one_stream_mid_batch_leaves_the_others_exact_and_frees_its_sequence()
    {
        using var model = Load(models.Looping, slots: 3);
        var options = new ChatOptions { MaxOutputTokens = 40 };
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(TestCancellation);
        var first = model.Client.GetResponseAsync("Stream one", options, TestCancellation);
        var third = model.Client.GetResponseAsync("Stream three", options, TestCancellation);
        var received = 0;
        var cancelled = Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var update in model.Client.GetStreamingResponseAsync("Stream two", options, cancel.Token))
            {
                if (update.Text.Length > 0 && ++received == 5)
                {
                    await cancel.CancelAsync();
                }
            }
        });

        await cancelled.WaitAsync(Timeout, TestCancellation);
        // The cancelled request has returned: its sequence is already free for the next one.
        var next = model.Client.GetResponseAsync("Stream four", options, TestCancellation);
        var replies = await Task.WhenAll(first, third, next).WaitAsync(Timeout, TestCancellation);

        var expected = string.Concat(Enumerable.Range(0, 40).Select(i => LoopPieces[i % LoopPieces.Count]));
        Assert.All(replies, reply =>
        {
            Assert.Equal(expected, reply.Text);
            Assert.Equal(ChatFinishReason.Length, reply.FinishReason);
        });
        Assert.Equal(5, received);
        Assert.Equal(3, model.Host.Scheduler.Free);
        Assert.Equal(0, model.Host.Scheduler.Queued);
    }

    [Fact]
    public async Task Requests_beyond_the_sequences_wait_in_arrival_order_and_then_run()
    {
        using var model = Load(models.Looping, slots: 2);
        var options = new ChatOptions { MaxOutputTokens = 30 };
        var finished = new List<int>();
        var requests = Enumerable.Range(0, 5).Select(async i =>
        {
            var reply = await model.Client.GetResponseAsync($"Request {i}", options, TestCancellation);
            lock (finished)
            {
                finished.Add(i);
            }
            return reply;
        }).ToList();

        var replies = await Task.WhenAll(requests).WaitAsync(Timeout, TestCancellation);

        Assert.All(replies, reply => Assert.Equal(30, reply.Usage!.OutputTokenCount));
        // Two at a time, equally long: the last request admitted is the last to finish.
        Assert.Equal(4, finished[^1]);
        Assert.Equal(2, model.Host.Scheduler.Free);
    }

    [Fact]
    public async Task Next_turn_of_a_conversation_processes_only_its_new_tokens()
    {
        using var model = Load(models.Scripted, slots: 2);
        List<ChatMessage> conversation = [new(ChatRole.System, "You are terse."), new(ChatRole.User, "First question")];

        var first = await model.Client.GetResponseAsync(conversation, cancellationToken: TestCancellation).WaitAsync(Timeout, TestCancellation);
        conversation.AddRange(first.Messages);
        conversation.Add(new(ChatRole.User, "Second question"));
        var second = await model.Client.GetResponseAsync(conversation, cancellationToken: TestCancellation).WaitAsync(Timeout, TestCancellation);

        Assert.Equal(GeneratedModels.ScriptedReply, second.Text);
        var firstTurn = first.Usage!.InputTokenCount!.Value;
        // At least the whole first prompt is still cached (its reply too, where it tokenizes the same way).
        Assert.InRange(second.Usage!.CachedInputTokenCount!.Value, firstTurn, second.Usage.InputTokenCount!.Value - 1);
    }

    [Fact]
    public async Task Eight_conversations_taking_turns_each_find_their_own_cache_on_every_revisit()
    {
        using var model = Load(models.Scripted, slots: 8);
        var system = new ChatMessage(ChatRole.System, "You answer questions about the lighthouse, briefly.");
        var conversations = Enumerable.Range(0, 8).Select(_ => new List<ChatMessage> { system }).ToList();
        var lastPrompt = new int[8];

        for (var turn = 1; turn <= 4; turn++)
        {
            for (var c = 0; c < conversations.Count; c++)
            {
                var reply = await model.TurnAsync(conversations[c], $"Conversation {c} asks question {turn}");
                var cached = (int)reply.Usage!.CachedInputTokenCount!.Value;
                var prompt = (int)reply.Usage.InputTokenCount!.Value;
                if (turn == 1)
                {
                    // Only the system prompt is shared with the others, and it is copied from whoever holds it.
                    Assert.True(c == 0 ? cached == 0 : cached >= SystemTokens(model, system) && cached < prompt,
                        $"conversation {c}, turn 1: {cached} of {prompt} prompt tokens cached");
                }
                else
                {
                    // Seven other conversations ran since this one's last turn: its whole last prompt is still cached.
                    Assert.True(cached >= lastPrompt[c] && cached < prompt, $"conversation {c}, turn {turn}: {cached} of {prompt} prompt tokens cached, {lastPrompt[c]} expected at least");
                }
                lastPrompt[c] = prompt;
            }
        }
    }

    [Fact]
    public async Task A_new_conversation_takes_the_least_recently_used_sequence_and_keeps_the_others()
    {
        // The live cache alone: with host memory on, A would come back from there (HostKvCacheTests).
        using var model = LoadedModel.Load(models.Scripted, parallelSlots: 2, contextSize: 512, hostCacheBytes: 0);
        List<ChatMessage> a = [], b = [], c = [];

        var aFirst = await model.TurnAsync(a, "Conversation A starts");
        var bFirst = await model.TurnAsync(b, "Conversation B starts");
        await model.TurnAsync(c, "Conversation C starts");
        var bSecond = await model.TurnAsync(b, "B goes on");
        var aSecond = await model.TurnAsync(a, "A comes back");

        // C took A's sequence (used longest ago), not B's: B's next turn hits, A's pays its prompt again.
        Assert.InRange(bSecond.Usage!.CachedInputTokenCount!.Value, bFirst.Usage!.InputTokenCount!.Value, bSecond.Usage.InputTokenCount!.Value - 1);
        Assert.True(aSecond.Usage!.CachedInputTokenCount < aFirst.Usage!.InputTokenCount / 2,
            $"A's second turn had {aSecond.Usage.CachedInputTokenCount} tokens cached; its sequence should have been reused for C");
    }

    private static int SystemTokens(LoadedModel model, ChatMessage system)
    {
        using var context = model.Host.CreateContext();
        return context.Tokenize($"<|im_start|>system\n{system.Text}<|im_end|>\n", addBos: false, special: true).Length;
    }

    [Fact]
    public async Task Shared_prefix_of_a_running_request_is_copied_not_recomputed()
    {
        using var model = Load(models.Looping, slots: 2);
        var system = new ChatMessage(ChatRole.System, string.Join(' ', Enumerable.Repeat("Follow the house rules of the lighthouse.", 12)));
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(TestCancellation);
        await using var running = model.Client.GetStreamingResponseAsync([system, new(ChatRole.User, "Keep talking")], cancellationToken: stop.Token)
            .GetAsyncEnumerator(stop.Token);
        Assert.True(await running.MoveNextAsync().AsTask().WaitAsync(Timeout, TestCancellation));

        var other = await model.Client.GetResponseAsync([system, new(ChatRole.User, "Something else")], new ChatOptions { MaxOutputTokens = 12 }, TestCancellation)
            .WaitAsync(Timeout, TestCancellation);

        var expected = string.Concat(Enumerable.Range(0, 12).Select(i => LoopPieces[i % LoopPieces.Count]));
        Assert.Equal(expected, other.Text);
        using var context = model.Host.CreateContext();
        var systemTokens = context.Tokenize($"<|im_start|>system\n{system.Text}<|im_end|>\n", addBos: false, special: true).Length;
        Assert.InRange(other.Usage!.CachedInputTokenCount!.Value, systemTokens, other.Usage.InputTokenCount!.Value - 1);
        await stop.CancelAsync();
    }

    [Fact]
    public async Task Request_whose_prompt_does_not_fit_the_kv_cache_waits_for_room_then_runs()
    {
        // Room for two of these prompts at a time, though four sequences are free.
        using var model = Load(models.Looping, slots: 4, contextSize: 256, kvCacheSize: 512);
        var prompt = string.Join(' ', Enumerable.Repeat("lighthouse", 17));
        var options = new ChatOptions { MaxOutputTokens = 20 };
        var first = await model.Client.GetResponseAsync(prompt, options, TestCancellation).WaitAsync(Timeout, TestCancellation);
        var promptTokens = first.Usage!.InputTokenCount!.Value;
        Assert.InRange(promptTokens, 180, 235);

        var sawWaiting = false;
        var requests = Enumerable.Range(0, 4).Select(i => model.Client.GetResponseAsync($"{i} {prompt}", options, TestCancellation)).ToList();
        var all = Task.WhenAll(requests);
        while (!all.IsCompleted)
        {
            sawWaiting |= model.Host.Scheduler.Queued > 0 && model.Host.Scheduler.Free > 0;
            await Task.Delay(1, TestCancellation);
        }
        var replies = await all.WaitAsync(Timeout, TestCancellation);

        Assert.True(sawWaiting, "a request should have waited for KV room while sequences were free");
        var expected = string.Concat(Enumerable.Range(0, 20).Select(i => LoopPieces[i % LoopPieces.Count]));
        Assert.All(replies, reply => Assert.Equal(expected, reply.Text));
        Assert.Equal(4, model.Host.Scheduler.Free);
    }

    [Fact]
    public async Task A_request_still_reading_its_prompt_when_the_cache_fills_waits_and_then_gets_its_whole_reply()
    {
        // The cache holds 256 tokens. A generates while B's long prompt goes in two tokens a step (StepTokens 3, no
        // target gap to widen the steps): A's reply and B's prompt outgrow the cache before B has produced a token. (When
        // B happens to arrive after A has grown too much for its prompt, B waits for room at admission instead: the
        // attempt is repeated.) A small batch, so B's prompt does not go in whole beside A's in the first step.
        using var model = Load(models.Looping, slots: 2, contextSize: 256, kvCacheSize: 256, stepTokens: 3, targetTokenGap: TimeSpan.Zero, batchSize: 16);
        var longPrompt = PromptOf(model, 200);
        var expected = string.Concat(Enumerable.Range(0, 20).Select(i => LoopPieces[i % LoopPieces.Count]));

        for (var attempt = 0; attempt < 5 && model.Host.Scheduler.Requeued == 0; attempt++)
        {
            var a = model.Client.GetResponseAsync($"{attempt} Keep going", new ChatOptions { MaxOutputTokens = 120 }, TestCancellation);
            var b = model.Client.GetResponseAsync($"{attempt} {longPrompt}", new ChatOptions { MaxOutputTokens = 20 }, TestCancellation);
            var replies = await Task.WhenAll(a, b).WaitAsync(Timeout, TestCancellation);

            Assert.Equal(120, replies[0].Usage!.OutputTokenCount);
            // Never cut with nothing: B's whole reply, once A's end made room.
            Assert.Equal(expected, replies[1].Text);
            Assert.Equal(20, replies[1].Usage!.OutputTokenCount);
        }
        Assert.True(model.Host.Scheduler.Requeued > 0, "no attempt had the cache fill while B read its prompt");
    }

    [Fact]
    public async Task A_request_that_waits_for_kv_room_longer_than_the_queue_timeout_gets_503_model_overloaded()
    {
        using var model = Load(models.Looping, slots: 2, contextSize: 1024, kvCacheSize: 1024, queueTimeout: TimeSpan.FromMilliseconds(1));
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(TestCancellation);
        await using var running = model.Client.GetStreamingResponseAsync("Keep going", cancellationToken: stop.Token).GetAsyncEnumerator(stop.Token);
        Assert.True(await running.MoveNextAsync().AsTask().WaitAsync(Timeout, TestCancellation));

        // Its prompt fits the cache only once the running reply ends, hundreds of tokens later.
        var error = await Assert.ThrowsAsync<ApiErrorException>(() => model.Client.GetResponseAsync(PromptOf(model, 1000), cancellationToken: TestCancellation).WaitAsync(Timeout, TestCancellation));

        Assert.Equal(503, error.StatusCode);
        Assert.Equal(ApiErrorException.ModelOverloadedCode, error.Code);
        Assert.Contains("KV cache", error.Message);
        Assert.True(error.RetryAfter > TimeSpan.Zero);
        await stop.CancelAsync();
    }

    // A user message of about `tokens` tokens (the template adds a few).
    private static string PromptOf(LoadedModel model, int tokens)
    {
        using var context = model.Host.CreateContext();
        var text = new System.Text.StringBuilder();
        for (var i = 0; context.Tokenize(text.ToString(), addBos: false, special: false).Length < tokens; i++)
        {
            text.Append(i % 2 == 0 ? "tide " : "harbour ");
        }
        return text.ToString();
    }

    [Fact]
    public async Task Generations_that_outgrow_the_kv_cache_end_with_length_and_the_model_serves_on()
    {
        // Two sequences may each hold 256 tokens, but the cache holds 256 in all: once both prompts and some
        // output fill it, llama.cpp has no slot for the next tokens.
        using var model = Load(models.Looping, slots: 2, contextSize: 256, kvCacheSize: 256);
        var prompt = string.Join(' ', Enumerable.Repeat("tide", 15));

        var replies = await Task.WhenAll(
            model.Client.GetResponseAsync($"one {prompt}", cancellationToken: TestCancellation),
            model.Client.GetResponseAsync($"two {prompt}", cancellationToken: TestCancellation)).WaitAsync(Timeout, TestCancellation);

        Assert.All(replies, reply => Assert.Equal(ChatFinishReason.Length, reply.FinishReason));
        // The newest one was cut when the cache filled; the other went on to its full context.
        Assert.Equal(256, replies.Max(r => r.Usage!.TotalTokenCount));
        Assert.True(replies.Min(r => r.Usage!.TotalTokenCount) < 256);
        var next = await model.Client.GetResponseAsync("after", new ChatOptions { MaxOutputTokens = 5 }, TestCancellation).WaitAsync(Timeout, TestCancellation);
        Assert.Equal(5, next.Usage!.OutputTokenCount);
    }

    private static LoadedModel Load(string path, int slots, int contextSize = 512, int? kvCacheSize = null, int? stepTokens = null, TimeSpan? queueTimeout = null,
        TimeSpan? targetTokenGap = null, int? batchSize = null) =>
        LoadedModel.Load(path, slots, contextSize, kvCacheSize, stepTokens, queueTimeout, targetTokenGap: targetTokenGap, batchSize: batchSize);
}
