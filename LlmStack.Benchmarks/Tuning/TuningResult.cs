namespace LlmStack.Benchmarks.Tuning;

/// <summary>One configuration of the embedded backend, measured in-process (medians over the runs).</summary>
public sealed record TuningResult
{
    public int Threads { get; init; }

    public int BatchSize { get; init; }

    public int ParallelSlots { get; init; }

    /// <summary>Requests sent at once.</summary>
    public int Concurrency { get; init; }

    public int? PromptTokens { get; init; }

    public double? TtftMs { get; init; }

    /// <summary>Prompt tokens over the time to first token.</summary>
    public double? PrefillTokensPerSecond { get; init; }

    /// <summary>One stream's decode speed.</summary>
    public double? DecodeTokensPerSecond { get; init; }

    /// <summary>All output tokens over the wall time, when several requests run at once.</summary>
    public double AggregateTokensPerSecond { get; init; }
}
