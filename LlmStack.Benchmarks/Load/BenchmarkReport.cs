using System.Globalization;
using System.Text.Json;

namespace LlmStack.Benchmarks.Load;

/// <summary>Everything one run measured, as written by <c>--json</c>.</summary>
public sealed record BenchmarkReport
{
    public required string Command { get; init; }

    public DateTimeOffset At { get; init; } = DateTimeOffset.UtcNow;

    public int ProcessorCount { get; init; } = Environment.ProcessorCount;

    public string? Target { get; init; }

    /// <summary>
    /// The machine's 1, 5 and 15-minute load averages when the run ended (Linux): on a shared machine, figures
    /// taken under a load above the core count are slower and noisier, and only ratios within the run compare.
    /// </summary>
    public string? LoadAverage { get; init; } = ReadLoadAverage();

    public Workload? Workload { get; init; }

    public IReadOnlyList<LevelSummary>? Levels { get; init; }

    public IReadOnlyList<Overhead.OverheadResult>? Overhead { get; init; }

    public IReadOnlyList<Tuning.TuningResult>? Tuning { get; init; }

    public IReadOnlyList<Versus.VersusRow>? Versus { get; init; }

    /// <summary>Prints the machine's load and writes the report to <paramref name="file"/> when one is given.</summary>
    public async Task WriteAsync(FileInfo? file, CancellationToken cancellationToken)
    {
        if (LoadAverage is not null)
        {
            Console.WriteLine($"Load average (1/5/15 min) at the end: {LoadAverage} on {ProcessorCount} cores");
        }
        if (file is null)
        {
            return;
        }
        file.Directory?.Create();
        await using var stream = file.Create();
        await JsonSerializer.SerializeAsync(stream, this, BenchJsonContext.Default.BenchmarkReport, cancellationToken);
        Console.WriteLine($"Wrote {file.FullName}");
    }

    private static string? ReadLoadAverage()
    {
        const string LoadAverageFile = "/proc/loadavg";
        return File.Exists(LoadAverageFile)
            ? string.Join(' ', File.ReadAllText(LoadAverageFile).Split(' ').Take(3))
            : null;
    }
}

/// <summary>The console table of a sweep, one row per level, written as each level completes.</summary>
public static class SweepTable
{
    private const string Format = "{0,5} {1,5} {2,4} {3,10} {4,10} {5,9} {6,9} {7,10} {8,10} {9,10} {10,10}";

    public static void WriteHeader(TextWriter output) =>
        output.WriteLine(string.Format(CultureInfo.InvariantCulture, Format,
            "conc", "reqs", "err", "TTFT p50", "TTFT p95", "ITL p50", "ITL p95", "e2e p50", "tok/s all", "tok/s 1", "prompt/out"));

    public static void WriteRow(TextWriter output, LevelSummary level)
    {
        output.WriteLine(string.Format(CultureInfo.InvariantCulture, Format,
            level.Concurrency, level.Requests, level.Errors,
            Ms(level.TtftP50Ms), Ms(level.TtftP95Ms), Ms(level.ItlP50Ms), Ms(level.ItlP95Ms), Ms(level.EndToEndP50Ms),
            level.AggregateTokensPerSecond.ToString("F1", CultureInfo.InvariantCulture),
            level.PerStreamTokensPerSecond?.ToString("F1", CultureInfo.InvariantCulture) ?? "-",
            level.OutputTokensP50 is null ? "-" : $"{level.PromptTokensP50:F0}/{level.OutputTokensP50:F0}"));
        if (level.FirstError is { } error)
        {
            output.WriteLine($"      first error: {error}");
        }
    }

    public static string Ms(double? milliseconds) => milliseconds switch
    {
        null => "-",
        < 10 => milliseconds.Value.ToString("F2", CultureInfo.InvariantCulture) + " ms",
        < 10_000 => milliseconds.Value.ToString("F0", CultureInfo.InvariantCulture) + " ms",
        _ => (milliseconds.Value / 1000).ToString("F1", CultureInfo.InvariantCulture) + " s",
    };
}
