namespace LlmStack.Benchmarks.Overhead;

/// <summary>
/// What the API adds to one model's requests: the same requests made through LlmStack.Api over HTTP and
/// directly to the embedded backend's chat client, in alternation, medians over the runs.
/// </summary>
public sealed record OverheadResult
{
    public required string Model { get; init; }

    public int Runs { get; init; }

    public int? PromptTokens { get; init; }

    public int? OutputTokens { get; init; }

    public int Chunks { get; init; }

    public double DirectTtftMs { get; init; }

    public double ApiTtftMs { get; init; }

    /// <summary>Median over the runs of (API - direct) time to first token: the API's cost per request before the first token.</summary>
    public double AddedTtftUs { get; init; }

    /// <summary>Mean gap between content chunks of a request, median over runs.</summary>
    public double DirectPerChunkMs { get; init; }

    public double ApiPerChunkMs { get; init; }

    /// <summary>Median over runs of the (API - direct) mean gap: the API's cost per streamed chunk.</summary>
    public double AddedPerChunkUs { get; init; }

    /// <summary>
    /// The API's own mean time per output token over the measured runs (its <c>gen_ai.server.time_per_output_token</c>
    /// metric): close to <see cref="ApiPerChunkMs"/> means the added per-token time is spent inside the API process
    /// (decode itself ran slower there), close to <see cref="DirectPerChunkMs"/> means it is spent on the way to the client.
    /// </summary>
    public double? ApiServerPerTokenMs { get; init; }

    public double DirectEndToEndMs { get; init; }

    public double ApiEndToEndMs { get; init; }

    /// <summary>Median over runs of the (API - direct) whole-request time.</summary>
    public double AddedPerRequestUs { get; init; }

    public double? TtftRatio => DirectTtftMs > 0 ? ApiTtftMs / DirectTtftMs : null;

    public double? PerChunkRatio => DirectPerChunkMs > 0 ? ApiPerChunkMs / DirectPerChunkMs : null;
}
