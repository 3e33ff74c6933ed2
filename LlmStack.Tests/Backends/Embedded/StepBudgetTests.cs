using LlmStack.Api.Backends.Embedded.Batching;
using LlmStack.Tests.Fixtures;
using Microsoft.Extensions.AI;

namespace LlmStack.Tests.Backends.Embedded;

/// <summary>
/// How many prompt tokens a decode step carries while streams generate: as many as fit in the target gap between a
/// stream's tokens at the step cost measured so far, never fewer than StepTokens - so prompts progress however
/// short the target.
/// </summary>
public sealed class StepBudgetTests(GeneratedModels models)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private static CancellationToken TestCancellation => TestContext.Current.CancellationToken;

    [Fact]
    public void The_step_cost_is_a_fixed_part_plus_a_part_per_token_fitted_to_the_steps_run()
    {
        var cost = new StepCost();
        Assert.Null(cost.TokensWithin(TimeSpan.FromMilliseconds(150)));

        // 20 ms to read the weights, 5 ms per token.
        foreach (var tokens in new[] { 1, 8, 8, 1, 128, 40, 1 })
        {
            cost.Record(tokens, TimeSpan.FromMilliseconds(20 + 5 * tokens));
        }

        Assert.InRange(cost.TokensWithin(TimeSpan.FromMilliseconds(150))!.Value, 25, 27);
        Assert.Equal(0, cost.TokensWithin(TimeSpan.FromMilliseconds(10)));
    }

    [Fact]
    public void A_cost_that_does_not_rise_with_tokens_is_flat_so_any_step_fits_a_target_above_it()
    {
        var cost = new StepCost();
        // Noise larger than the per-token part: the one-token steps happened to be the slowest.
        foreach (var (tokens, ms) in new[] { (1, 30), (16, 24), (1, 32), (64, 26) })
        {
            cost.Record(tokens, TimeSpan.FromMilliseconds(ms));
        }

        Assert.Equal(int.MaxValue, cost.TokensWithin(TimeSpan.FromMilliseconds(150)));
        Assert.Equal(0, cost.TokensWithin(TimeSpan.FromMilliseconds(20)));
    }

    [Fact]
    public void A_machine_getting_slower_shrinks_the_budget_within_a_few_steps()
    {
        var cost = new StepCost();
        foreach (var tokens in new[] { 1, 64, 1, 64 })
        {
            cost.Record(tokens, TimeSpan.FromMilliseconds(20 + 5 * tokens));
        }
        var before = cost.TokensWithin(TimeSpan.FromMilliseconds(150))!.Value;
        for (var i = 0; i < 8; i++)
        {
            cost.Record(1, TimeSpan.FromMilliseconds(40 + 10));
            cost.Record(64, TimeSpan.FromMilliseconds(40 + 10 * 64));
        }

        Assert.InRange(cost.TokensWithin(TimeSpan.FromMilliseconds(150))!.Value, 5, before / 2);
    }

    [Fact]
    public void No_decode_carries_more_tokens_than_the_kv_cache_holds()
    {
        // llama.cpp caps n_batch at its context and refuses a larger batch: a 256-token cache with the default 512-token
        // batch and steps decodes 256 at most.
        var small = new BatchSettings(Slots: 2, SequenceContext: 256, KvCacheTokens: 256, StepTokens: 512, BatchSize: 512, TargetTokenGap: TimeSpan.Zero,
            ReuseSimilarity: 0.9, HostCacheBytes: 0, RoomTimeout: TimeSpan.FromSeconds(1));
        Assert.Equal((256, 256, 256), (small.MaxDecodeTokens, small.PromptBatch, small.StepFloor));

        var large = small with { KvCacheTokens = 16_384, StepTokens = 32, BatchSize = 128 };
        Assert.Equal((128, 128, 32), (large.MaxDecodeTokens, large.PromptBatch, large.StepFloor));
    }

    [Fact]
    public async Task With_room_in_the_target_gap_a_prompt_goes_in_far_fewer_steps_than_step_tokens_allow()
    {
        // A tiny model: a step costs far less than ten seconds, even on a loaded 2-core box (a 1 s target once fit only
        // a few tokens a step there), so the budget is the batch size, not StepTokens (3).
        var withTarget = await PromptStepsAsync(TimeSpan.FromSeconds(10));
        var fixedSteps = await PromptStepsAsync(TimeSpan.Zero);

        Assert.True(withTarget * 10 < fixedSteps, $"B's prompt took {withTarget} steps with a target gap, {fixedSteps} with StepTokens alone");
    }

    [Fact]
    public async Task A_target_below_one_step_still_lets_a_prompt_through_at_step_tokens()
    {
        var steps = await PromptStepsAsync(TimeSpan.FromTicks(1));

        // About 600 prompt tokens, two a step: slow, but B got its reply.
        Assert.InRange(steps, 100, 1000);
    }

    // Decode steps run between B's arrival, while A streams, and B's first token.
    private async Task<long> PromptStepsAsync(TimeSpan targetTokenGap)
    {
        using var model = LoadedModel.Load(models.Looping, parallelSlots: 2, contextSize: 1024, stepTokens: 3, targetTokenGap: targetTokenGap);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(TestCancellation);
        await using var a = model.Client.GetStreamingResponseAsync("Keep going", cancellationToken: stop.Token).GetAsyncEnumerator(stop.Token);
        // A few of A's steps first, so the cost of a one-token step is known beside its prompt's.
        for (var i = 0; i < 5; i++)
        {
            Assert.True(await a.MoveNextAsync().AsTask().WaitAsync(Timeout, TestCancellation));
        }
        var prompt = string.Join(' ', Enumerable.Repeat("harbour tide", 50));
        var before = model.Host.Scheduler.Steps;
        await using var b = model.Client.GetStreamingResponseAsync(prompt, new ChatOptions { MaxOutputTokens = 3 }, stop.Token).GetAsyncEnumerator(stop.Token);
        Assert.True(await b.MoveNextAsync().AsTask().WaitAsync(Timeout, TestCancellation));
        var steps = model.Host.Scheduler.Steps - before;
        await stop.CancelAsync();
        return steps;
    }
}
