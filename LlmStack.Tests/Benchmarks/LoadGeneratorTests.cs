extern alias bench;

using bench::LlmStack.Benchmarks.Load;
using LlmStack.Api.Configuration;
using LlmStack.Api.Pipeline;
using LlmStack.Tests.Fixtures;

namespace LlmStack.Tests.Benchmarks;

/// <summary>
/// The load generator's wire timing and statistics, against the real API serving a scripted model whose reply
/// length is known: the benchmark's figures are only worth what its counting is.
/// </summary>
public sealed class LoadGeneratorTests(GeneratedModels models)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private static readonly int ReplyTokens = GeneratedModels.PiecesOf(GeneratedModels.ScriptedReply).Count;

    [Fact]
    public async Task A_streamed_reply_is_timed_chunk_by_chunk_and_counted_from_usage()
    {
        var sample = await SendOneAsync("scripted", maxTokens: 200);

        Assert.Null(sample.Error);
        Assert.Equal(ReplyTokens, sample.OutputTokens);
        Assert.True(sample.PromptTokens > 5);
        Assert.True(sample.ContentChunks > 1);
        Assert.Equal(sample.ContentChunks - 1, sample.InterTokenMs.Count);
        Assert.InRange(sample.TimeToFirstTokenMs!.Value, 0, sample.EndToEndMs);
        Assert.True(sample.TimeToFirstTokenMs + sample.InterTokenMs.Sum() <= sample.EndToEndMs);
    }

    [Fact]
    public async Task Sweep_sends_the_requested_count_per_level_and_reports_each_level()
    {
        await using var api = Serve();
        using var http = new HttpClient { BaseAddress = api.BaseAddress };
        var client = new ChatStreamClient(http);
        var workload = new Workload("scripted", PromptWords: 5, MaxTokens: 200);

        var levels = await LoadSweep.RunAsync(new SweepLimits([1, 2], RequestsPerLevel: 3, TimeSpan.FromSeconds(30)),
                (n, ct) => client.SendAsync(workload.Request(n), ct), onLevel: null, TestContext.Current.CancellationToken)
            .WaitAsync(Timeout, TestContext.Current.CancellationToken);

        Assert.Equal([1, 2], levels.Select(level => level.Concurrency));
        Assert.All(levels, level =>
        {
            Assert.Equal(3, level.Requests);
            Assert.Equal(0, level.Errors);
            Assert.Equal(ReplyTokens, level.OutputTokensP50);
            Assert.True(level.TtftP50Ms <= level.TtftP95Ms);
            Assert.True(level.ItlP50Ms <= level.ItlP95Ms && level.ItlP95Ms <= level.ItlP99Ms && level.ItlP99Ms <= level.ItlMaxMs);
            Assert.True(level.AggregateTokensPerSecond > 0);
            // Three replies' tokens over the level's wall time.
            Assert.Equal(3 * ReplyTokens / level.WallSeconds, level.AggregateTokensPerSecond, 6);
        });
    }

    [Fact]
    public async Task A_refused_request_is_an_error_sample_with_the_servers_message()
    {
        var sample = await SendOneAsync("no-such-model", maxTokens: 8);

        Assert.StartsWith("HTTP 404: ", sample.Error);
        Assert.Contains("no-such-model", sample.Error);
        Assert.Null(sample.TimeToFirstTokenMs);
    }

    [Fact]
    public void Percentiles_interpolate_between_closest_ranks()
    {
        double[] values = [40, 10, 30, 20];

        Assert.Equal(25, Percentiles.Median(values));
        Assert.Equal(38.5, Percentiles.Of(values, 95)!.Value, 9);
        Assert.Equal(10, Percentiles.Of(values, 0));
        Assert.Equal(40, Percentiles.Of(values, 100));
        Assert.Equal(7, Percentiles.Median([7]));
        Assert.Null(Percentiles.Median([]));
    }

    [Fact]
    public void Level_figures_count_failures_and_take_latencies_from_successful_requests_only()
    {
        RequestSample[] samples =
        [
            new() { TimeToFirstTokenMs = 100, InterTokenMs = [10, 30], EndToEndMs = 140, OutputTokens = 3, PromptTokens = 20 },
            new() { TimeToFirstTokenMs = 300, InterTokenMs = [20], EndToEndMs = 400, OutputTokens = 2, PromptTokens = 20 },
            new() { TimeToFirstTokenMs = 5, InterTokenMs = [1], EndToEndMs = 6, Error = "stream error: boom" },
        ];

        var level = LevelSummary.From(2, samples, TimeSpan.FromSeconds(2));

        Assert.Equal((3, 1, "stream error: boom"), (level.Requests, level.Errors, level.FirstError));
        Assert.Equal(200, level.TtftP50Ms);
        Assert.Equal(20, level.ItlP50Ms);
        Assert.Equal(270, level.EndToEndP50Ms);
        Assert.Equal(2.5, level.AggregateTokensPerSecond);
        // Stream speeds: 2 tokens in 40 ms = 50 tok/s, 1 token in 100 ms = 10 tok/s.
        Assert.Equal(30, level.PerStreamTokensPerSecond!.Value, 9);
    }

    private async Task<RequestSample> SendOneAsync(string model, int maxTokens)
    {
        await using var api = Serve();
        using var http = new HttpClient { BaseAddress = api.BaseAddress };
        return await new ChatStreamClient(http)
            .SendAsync(new Workload(model, PromptWords: 5, MaxTokens: maxTokens).Request(1), TestContext.Current.CancellationToken)
            .WaitAsync(Timeout, TestContext.Current.CancellationToken);
    }

    private ApiApplication Serve() =>
        new([new ModelOptions { Id = "scripted", Backend = "embedded", Path = models.Scripted }]);
}
