namespace LlmStack.Benchmarks.Load;

/// <summary>The figures of one concurrency level, as printed in the table and written to JSON.</summary>
public sealed record LevelSummary
{
    public int Concurrency { get; init; }

    public int Requests { get; init; }

    public int Errors { get; init; }

    /// <summary>The first error message seen, to tell what went wrong.</summary>
    public string? FirstError { get; init; }

    public double? TtftP50Ms { get; init; }

    public double? TtftP95Ms { get; init; }

    /// <summary>Over every gap between content chunks of every successful request.</summary>
    public double? ItlP50Ms { get; init; }

    public double? ItlP95Ms { get; init; }

    public double? ItlP99Ms { get; init; }

    /// <summary>The longest a stream waited between two of its chunks: one long stall barely moves the percentiles.</summary>
    public double? ItlMaxMs { get; init; }

    public double? EndToEndP50Ms { get; init; }

    /// <summary>Every output token of the level over the level's wall time: what the server delivers in total.</summary>
    public double AggregateTokensPerSecond { get; init; }

    /// <summary>Median decode speed one stream sees (tokens after the first over the time after the first).</summary>
    public double? PerStreamTokensPerSecond { get; init; }

    public double? PromptTokensP50 { get; init; }

    public double? OutputTokensP50 { get; init; }

    public double WallSeconds { get; init; }

    /// <summary>Every request of the level, in completion order (for the JSON report).</summary>
    public IReadOnlyList<RequestSample> Samples { get; init; } = [];

    public static LevelSummary From(int concurrency, IReadOnlyList<RequestSample> samples, TimeSpan wall)
    {
        var ok = samples.Where(s => s.Succeeded).ToList();
        var ttft = ok.Select(s => s.TimeToFirstTokenMs).OfType<double>().ToList();
        var gaps = ok.SelectMany(s => s.InterTokenMs).ToList();
        return new LevelSummary
        {
            Concurrency = concurrency,
            Requests = samples.Count,
            Errors = samples.Count - ok.Count,
            FirstError = samples.FirstOrDefault(s => !s.Succeeded)?.Error,
            TtftP50Ms = Percentiles.Of(ttft, 50),
            TtftP95Ms = Percentiles.Of(ttft, 95),
            ItlP50Ms = Percentiles.Of(gaps, 50),
            ItlP95Ms = Percentiles.Of(gaps, 95),
            ItlP99Ms = Percentiles.Of(gaps, 99),
            ItlMaxMs = gaps.Count > 0 ? gaps.Max() : null,
            EndToEndP50Ms = Percentiles.Median(ok.Select(s => s.EndToEndMs)),
            AggregateTokensPerSecond = wall > TimeSpan.Zero ? ok.Sum(s => s.OutputTokens ?? 0) / wall.TotalSeconds : 0,
            PerStreamTokensPerSecond = Percentiles.Median(ok.Select(s => s.StreamTokensPerSecond).OfType<double>()),
            PromptTokensP50 = Percentiles.Median(ok.Select(s => s.PromptTokens).OfType<int>().Select(t => (double)t)),
            OutputTokensP50 = Percentiles.Median(ok.Select(s => s.OutputTokens).OfType<int>().Select(t => (double)t)),
            WallSeconds = wall.TotalSeconds,
            Samples = samples,
        };
    }
}
