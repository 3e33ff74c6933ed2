using System.Collections.Concurrent;
using System.Globalization;
using LlmStack.Benchmarks.Load;

namespace LlmStack.Benchmarks.Soak;

/// <summary>Requests by kind and outcome, with the latency of each, gathered from many workers at once.</summary>
public sealed class SoakTally
{
    /// <summary>Outcomes that mean the server misbehaved; everything else is an answer the client was owed.</summary>
    public static readonly IReadOnlySet<string> Unexpected = new HashSet<string> { "5xx", "bad envelope", "stream cut", "transport error" };

    private readonly ConcurrentDictionary<(string Kind, string Outcome), ConcurrentBag<double>> _samples = new();

    public void Add(string kind, string outcome, double milliseconds) =>
        _samples.GetOrAdd((kind, outcome), _ => []).Add(milliseconds);

    public long Total => _samples.Values.Sum(s => (long)s.Count);

    public long UnexpectedCount => _samples.Where(s => Unexpected.Contains(s.Key.Outcome)).Sum(s => (long)s.Value.Count);

    public IEnumerable<double> Latencies(Func<string, string, bool> which) =>
        _samples.Where(s => which(s.Key.Kind, s.Key.Outcome)).SelectMany(s => s.Value);

    public void Print(TextWriter output)
    {
        output.WriteLine("  kind          outcome             count    p50 ms    p95 ms    p99 ms");
        foreach (var ((kind, outcome), samples) in _samples.OrderBy(s => s.Key.Kind).ThenBy(s => s.Key.Outcome))
        {
            var values = samples.ToArray();
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {kind,-13} {outcome,-17} {values.Length,7} {Ms(Percentiles.Of(values, 50)),9} {Ms(Percentiles.Of(values, 95)),9} {Ms(Percentiles.Of(values, 99)),9}"));
        }
    }

    internal static string Ms(double? value) => value is { } v ? v.ToString("F1", CultureInfo.InvariantCulture) : "-";
}
