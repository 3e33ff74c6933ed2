extern alias bench;

using bench::LlmStack.Benchmarks;
using bench::LlmStack.Benchmarks.Hosting;
using bench::LlmStack.Benchmarks.Load;
using bench::LlmStack.Benchmarks.Pipeline;
using LlmStack.Api.Configuration;
using Microsoft.Extensions.Configuration;

namespace LlmStack.Tests.Benchmarks;

/// <summary>
/// The replica benchmarks' options and arithmetic (<c>conversation --replicas</c>, <c>pipeline --proxy --paired</c>):
/// the tables in docs/benchmarks.md are only worth what these compute.
/// </summary>
public sealed class ReplicaBenchmarkTests
{
    [Fact]
    public void Median_interval_is_the_pair_of_order_statistics_the_binomial_gives()
    {
        var values = Enumerable.Range(1, 100).Select(i => (double)i).Reverse();

        // n = 100 at 95%: ranks 40 and 61, as the tables for the sign test's interval give.
        Assert.Equal((40.0, 61.0), Percentiles.MedianInterval(values));
        Assert.Equal((7.0, 7.0), Percentiles.MedianInterval([7]));
        Assert.Null(Percentiles.MedianInterval([]));
    }

    [Fact]
    public void A_turn_of_several_conversations_reads_as_their_median_ttft_and_summed_tokens()
    {
        ConversationTurn[] turn = [new(900, 300, 290, 850), new(4000, 310, 14, 3900), new(1100, 305, 300, 1000)];

        Assert.Equal(new ConversationTurn(1100, 915, 604, 1000), ConversationTurn.Summarize(turn));
        Assert.Equal(604.0 / 915, ConversationTurn.CachedShare(turn), 9);
    }

    [Fact]
    public void A_turn_whose_usage_lacks_cached_tokens_sums_to_none_and_is_left_out_of_the_share()
    {
        ConversationTurn[] turn = [new(900, 300, 290), new(1000, 310, null)];

        // The replica's time is known only through a routing API: without it, none.
        Assert.Equal(new ConversationTurn(950, 610, null, null), ConversationTurn.Summarize(turn));
        Assert.Equal(290.0 / 300, ConversationTurn.CachedShare(turn), 9);
    }

    [Fact]
    public void Conversation_takes_several_conversations_and_the_host_tier_the_api_binds()
    {
        var parse = ConversationCommand.Create().Parse("--replicas --conversations 3 --parallel-slots 2 --host-cache-bytes 0");

        Assert.Empty(parse.Errors);
        var tuning = BenchOptions.Tuning(parse);
        Assert.Equal(new EmbeddedTuning(ParallelSlots: 2, HostCacheBytes: 0), tuning);
        // The keys ApiProcess passes as LlmStack__Models__0__*, bound as the API binds them.
        var bound = new ConfigurationBuilder().AddInMemoryCollection(tuning.Settings().Select(s => new KeyValuePair<string, string?>(s.Key, s.Value))).Build().Get<ModelOptions>()!;
        Assert.Equal((2, 0L), (bound.Embedded.ParallelSlots, bound.Embedded.HostCacheBytes));
    }

    [Fact]
    public void Fresh_replicas_are_asked_for_by_name()
    {
        var command = ConversationCommand.Create();

        Assert.True(command.Parse("--replicas --fresh-replicas").GetValue<bool>("--fresh-replicas"));
        Assert.False(command.Parse("--replicas").GetValue<bool>("--fresh-replicas"));
    }

    [Theory]
    [InlineData("--replicas --conversations 0", "--conversations must be at least 1.")]
    [InlineData("--replicas --host-cache-bytes -1", "--host-cache-bytes must be 0 or more.")]
    public void Conversation_refuses_counts_out_of_range(string args, string error)
    {
        Assert.Contains(error, ConversationCommand.Create().Parse(args).Errors.Select(e => e.Message));
    }

    [Fact]
    public void Pipeline_pairs_only_the_proxy_path()
    {
        Assert.Contains("--paired measures the proxy path: use it with --proxy.", PipelineCommand.Create().Parse("--paired").Errors.Select(e => e.Message));
        Assert.Empty(PipelineCommand.Create().Parse("--proxy --paired --requests 100").Errors);
    }
}
