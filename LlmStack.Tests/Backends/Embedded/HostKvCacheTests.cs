using LlmStack.Tests.Fixtures;
using Microsoft.Extensions.AI;

namespace LlmStack.Tests.Backends.Embedded;

/// <summary>
/// The host-memory tier of the embedded engine's prompt cache, with real llama.cpp sequence states: a conversation
/// whose sequence another one takes is saved, and restored when it comes back - the cached token counts of its next
/// turn prove it - within the byte budget, least recently used dropped first.
/// </summary>
public sealed class HostKvCacheTests(GeneratedModels models)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_conversation_evicted_from_the_kv_cache_is_restored_from_host_memory_on_its_next_turn()
    {
        // One sequence: every new conversation takes the previous one's.
        using var model = LoadedModel.Load(models.Scripted, parallelSlots: 1, contextSize: 512);
        List<ChatMessage> a = [], b = [];

        var aFirst = await model.TurnAsync(a, "Conversation A starts");
        await model.TurnAsync(b, "Conversation B starts");
        var saved = model.Host.Scheduler.PrefixCache;
        var aSecond = await model.TurnAsync(a, "A comes back");

        Assert.Equal(1, saved.KvEvictions);
        Assert.Equal(1, saved.HostEntries);
        Assert.True(saved.HostBytes > 0);
        // A's whole first prompt (its reply too, where it tokenizes the same way) came back without being computed.
        Assert.InRange(aSecond.Usage!.CachedInputTokenCount!.Value, aFirst.Usage!.InputTokenCount!.Value, aSecond.Usage.InputTokenCount!.Value - 1);
        var after = model.Host.Scheduler.PrefixCache;
        Assert.Equal(aSecond.Usage.CachedInputTokenCount.Value, after.HostHitTokens);
        // B was saved in its turn, A left host memory for its sequence.
        Assert.Equal(2, after.KvEvictions);
        Assert.Equal(1, after.HostEntries);
    }

    [Fact]
    public async Task While_a_stream_generates_an_idle_conversation_waits_in_host_memory_and_its_next_turn_is_restored()
    {
        // Two sequences: B takes the empty one, so A's could stay live; it leaves because it would widen B's steps.
        using var model = LoadedModel.Load(models.Looping, parallelSlots: 2, contextSize: 512);
        var scheduler = model.Host.Scheduler;
        var reply = new ChatOptions { MaxOutputTokens = 6 };
        List<ChatMessage> a = [new(ChatRole.User, "Conversation A starts")];
        var aFirst = await model.Client.GetResponseAsync(a, reply, Cancellation).WaitAsync(Timeout, Cancellation);
        a.AddRange(aFirst.Messages);
        // Nothing else runs: A stays in the live cache.
        Assert.Equal(0, scheduler.PrefixCache.HostEntries);

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Cancellation);
        await using var b = model.Client.GetStreamingResponseAsync("Conversation B keeps talking", new ChatOptions { MaxOutputTokens = 400 }, stop.Token)
            .GetAsyncEnumerator(stop.Token);
        Assert.True(await b.MoveNextAsync().AsTask().WaitAsync(Timeout, Cancellation));

        // Before B's first step A was saved and dropped from the live cache.
        var parked = scheduler.PrefixCache;
        Assert.Equal(1, parked.HostEntries);
        Assert.Equal(1, parked.KvEvictions);
        a.Add(new ChatMessage(ChatRole.User, "A comes back"));
        var aSecond = await model.Client.GetResponseAsync(a, reply, Cancellation).WaitAsync(Timeout, Cancellation);

        // A's whole first prompt came back from host memory while B went on streaming.
        Assert.InRange(aSecond.Usage!.CachedInputTokenCount!.Value, aFirst.Usage!.InputTokenCount!.Value, aSecond.Usage.InputTokenCount!.Value - 1);
        Assert.Equal(aSecond.Usage.CachedInputTokenCount.Value, scheduler.PrefixCache.HostHitTokens);
        Assert.True(await b.MoveNextAsync().AsTask().WaitAsync(Timeout, Cancellation));
        await stop.CancelAsync();
    }

    [Fact]
    public async Task With_host_memory_off_an_idle_conversation_stays_live_while_a_stream_generates()
    {
        using var model = LoadedModel.Load(models.Looping, parallelSlots: 2, contextSize: 512, hostCacheBytes: 0);
        var reply = new ChatOptions { MaxOutputTokens = 6 };
        List<ChatMessage> a = [new(ChatRole.User, "Conversation A starts")];
        var aFirst = await model.Client.GetResponseAsync(a, reply, Cancellation).WaitAsync(Timeout, Cancellation);
        a.AddRange(aFirst.Messages);

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Cancellation);
        await using var b = model.Client.GetStreamingResponseAsync("Conversation B keeps talking", new ChatOptions { MaxOutputTokens = 400 }, stop.Token)
            .GetAsyncEnumerator(stop.Token);
        Assert.True(await b.MoveNextAsync().AsTask().WaitAsync(Timeout, Cancellation));
        a.Add(new ChatMessage(ChatRole.User, "A comes back"));
        var aSecond = await model.Client.GetResponseAsync(a, reply, Cancellation).WaitAsync(Timeout, Cancellation);

        // Nowhere to move it: A kept its sequence, and its next turn found it there.
        Assert.InRange(aSecond.Usage!.CachedInputTokenCount!.Value, aFirst.Usage!.InputTokenCount!.Value, aSecond.Usage.InputTokenCount!.Value - 1);
        await stop.CancelAsync();
    }

    [Fact]
    public async Task Host_memory_stays_within_its_budget_dropping_the_conversations_used_longest_ago()
    {
        // Measure one saved conversation, then allow about three of them.
        long stateBytes;
        using (var probe = LoadedModel.Load(models.Scripted, parallelSlots: 1, contextSize: 512))
        {
            await probe.TurnAsync([], "Conversation 10 starts");
            await probe.TurnAsync([], "Conversation 11 starts");
            stateBytes = probe.Host.Scheduler.PrefixCache.HostBytes;
        }
        var budget = stateBytes * 7 / 2;
        using var model = LoadedModel.Load(models.Scripted, parallelSlots: 1, contextSize: 512, hostCacheBytes: budget);
        var conversations = Enumerable.Range(10, 8).Select(_ => new List<ChatMessage>()).ToList();
        var firstPrompts = new long[conversations.Count];

        for (var c = 0; c < conversations.Count; c++)
        {
            var reply = await model.TurnAsync(conversations[c], $"Conversation {c + 10} starts");
            firstPrompts[c] = reply.Usage!.InputTokenCount!.Value;
            Assert.InRange(model.Host.Scheduler.PrefixCache.HostBytes, 0, budget);
        }
        var filled = model.Host.Scheduler.PrefixCache;
        Assert.InRange(filled.HostEntries, 2, 4);
        Assert.Equal(7 - filled.HostEntries, filled.HostEvictions);

        // The one evicted last is still saved; the first one was dropped long ago.
        var recent = await model.TurnAsync(conversations[6], "Conversation 16 goes on");
        Assert.InRange(recent.Usage!.CachedInputTokenCount!.Value, firstPrompts[6], recent.Usage.InputTokenCount!.Value - 1);
        var oldest = await model.TurnAsync(conversations[0], "Conversation 10 goes on");
        Assert.True(oldest.Usage!.CachedInputTokenCount < firstPrompts[0] / 2,
            $"the first conversation had {oldest.Usage.CachedInputTokenCount} of {firstPrompts[0]} tokens cached; it should have been dropped from host memory");
        Assert.InRange(model.Host.Scheduler.PrefixCache.HostBytes, 0, budget);
    }

    [Fact]
    public async Task With_a_hundred_conversations_and_four_sequences_every_revisit_finds_its_conversation()
    {
        using var model = LoadedModel.Load(models.Scripted, parallelSlots: 4, contextSize: 512);
        var system = new ChatMessage(ChatRole.System, "You answer questions about the harbour, briefly.");
        var conversations = Enumerable.Range(0, 100).Select(_ => new List<ChatMessage> { system }).ToList();
        var firstPrompts = new long[conversations.Count];

        for (var c = 0; c < conversations.Count; c++)
        {
            firstPrompts[c] = (await model.TurnAsync(conversations[c], $"Caller {c} asks about the tide")).Usage!.InputTokenCount!.Value;
        }
        var misses = new List<string>();
        for (var c = 0; c < conversations.Count; c++)
        {
            var reply = await model.TurnAsync(conversations[c], $"Caller {c} asks about the ferry");
            if (reply.Usage!.CachedInputTokenCount < firstPrompts[c])
            {
                misses.Add($"caller {c}: {reply.Usage.CachedInputTokenCount} of {reply.Usage.InputTokenCount} tokens cached, {firstPrompts[c]} expected at least");
            }
        }

        Assert.Empty(misses);
        var stats = model.Host.Scheduler.PrefixCache;
        Assert.True(stats.HostEntries >= 90, $"{stats.HostEntries} conversations saved in host memory");
        Assert.Equal(0, stats.HostEvictions);
    }
}
