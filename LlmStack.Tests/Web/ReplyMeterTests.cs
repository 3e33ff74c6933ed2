extern alias web;

using Microsoft.Extensions.AI;
using Microsoft.Extensions.Time.Testing;
using ReplyMeter = web::LlmStack.Web.Chat.ReplyMeter;

namespace LlmStack.Tests.Web;

/// <summary>The figures under each reply: time to first token and decode speed as the reader experiences them.</summary>
public sealed class ReplyMeterTests
{
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public void Time_to_first_token_counts_from_sending_and_speed_from_first_to_last_token()
    {
        var meter = new ReplyMeter(_time);
        _time.Advance(TimeSpan.FromMilliseconds(200));
        meter.Observe(new ChatResponseUpdate(ChatRole.Assistant, "") { ModelId = "qwen2.5:7b" });
        _time.Advance(TimeSpan.FromMilliseconds(100));
        meter.Observe(new ChatResponseUpdate(ChatRole.Assistant, "Hello"));
        for (var i = 0; i < 10; i++)
        {
            _time.Advance(TimeSpan.FromMilliseconds(50));
            meter.Observe(new ChatResponseUpdate(ChatRole.Assistant, " token"));
        }
        meter.Observe(new ChatResponseUpdate(ChatRole.Assistant, [new UsageContent(new UsageDetails { InputTokenCount = 12, OutputTokenCount = 21 })])
        {
            FinishReason = ChatFinishReason.Stop,
        });

        var stats = meter.Finish();

        Assert.Equal("qwen2.5:7b", stats.Model);
        Assert.Equal(0.3, stats.TimeToFirstTokenSeconds!.Value, precision: 6);
        // 20 tokens after the first (usage says 21 in all; a chunk may carry several) in 0.5 s.
        Assert.Equal(40, stats.TokensPerSecond!.Value, precision: 6);
        Assert.Equal(12, stats.InputTokens);
        Assert.Equal(21, stats.OutputTokens);
        Assert.Equal("stop", stats.FinishReason);
        Assert.Equal(0.8, stats.DurationSeconds, precision: 6);
    }

    [Fact]
    public void Stopped_reply_without_usage_is_measured_by_its_chunks()
    {
        var meter = new ReplyMeter(_time);
        _time.Advance(TimeSpan.FromMilliseconds(40));
        for (var i = 0; i < 5; i++)
        {
            meter.Observe(new ChatResponseUpdate(ChatRole.Assistant, "x"));
            _time.Advance(TimeSpan.FromMilliseconds(25));
        }

        var stats = meter.Finish();

        Assert.Equal(0.04, stats.TimeToFirstTokenSeconds!.Value, precision: 6);
        Assert.Equal(40, stats.TokensPerSecond!.Value, precision: 6);
        Assert.Null(stats.OutputTokens);
        Assert.Null(stats.FinishReason);
    }

    [Fact]
    public void Reply_without_text_has_no_first_token_and_no_speed()
    {
        var meter = new ReplyMeter(_time);
        _time.Advance(TimeSpan.FromSeconds(2));

        var stats = meter.Finish();

        Assert.Null(stats.TimeToFirstTokenSeconds);
        Assert.Null(stats.TokensPerSecond);
        Assert.Equal(2, stats.DurationSeconds, precision: 6);
    }
}
