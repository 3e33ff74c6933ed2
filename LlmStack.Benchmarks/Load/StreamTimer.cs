using System.Diagnostics;

namespace LlmStack.Benchmarks.Load;

/// <summary>
/// Times one streamed reply as its reader sees it: when the request started, when each piece of content
/// arrived. The same timer serves the HTTP client and the in-process chat client, so both are measured alike.
/// </summary>
public sealed class StreamTimer
{
    private readonly long _started = Stopwatch.GetTimestamp();
    private readonly List<long> _contentAt = [];

    /// <summary>A non-empty piece of content arrived now.</summary>
    public void Content() => _contentAt.Add(Stopwatch.GetTimestamp());

    public int ContentChunks => _contentAt.Count;

    /// <summary>The reply is complete (or failed) now.</summary>
    public RequestSample Finish(int? outputTokens, int? promptTokens, string? error = null)
    {
        var ended = Stopwatch.GetTimestamp();
        double Ms(long from, long to) => Stopwatch.GetElapsedTime(from, to).TotalMilliseconds;
        var gaps = new double[Math.Max(0, _contentAt.Count - 1)];
        for (var i = 1; i < _contentAt.Count; i++)
        {
            gaps[i - 1] = Ms(_contentAt[i - 1], _contentAt[i]);
        }
        return new RequestSample
        {
            TimeToFirstTokenMs = _contentAt.Count > 0 ? Ms(_started, _contentAt[0]) : null,
            InterTokenMs = gaps,
            EndToEndMs = Ms(_started, ended),
            ContentChunks = _contentAt.Count,
            OutputTokens = outputTokens,
            PromptTokens = promptTokens,
            Error = error,
        };
    }
}

/// <summary>One request's measurements.</summary>
public sealed record RequestSample
{
    /// <summary>From sending the request to the first non-empty content delta; null when none arrived.</summary>
    public double? TimeToFirstTokenMs { get; init; }

    /// <summary>The gaps between consecutive content deltas.</summary>
    public required IReadOnlyList<double> InterTokenMs { get; init; }

    public double EndToEndMs { get; init; }

    public int ContentChunks { get; init; }

    /// <summary>As reported by the server's usage (<c>completion_tokens</c>); null when it sent none.</summary>
    public int? OutputTokens { get; init; }

    public int? PromptTokens { get; init; }

    /// <summary>Prompt tokens the server found cached (<c>prompt_tokens_details.cached_tokens</c>); null when it sent none.</summary>
    public int? CachedTokens { get; init; }

    public string? Error { get; init; }

    public bool Succeeded => Error is null;

    /// <summary>Decode speed of this stream: tokens after the first over the time after the first.</summary>
    public double? StreamTokensPerSecond =>
        OutputTokens is > 1 && TimeToFirstTokenMs is { } ttft && EndToEndMs > ttft
            ? (OutputTokens.Value - 1) / ((EndToEndMs - ttft) / 1000)
            : null;
}
