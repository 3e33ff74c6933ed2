namespace LlmStack.Benchmarks.Load;

public static class Percentiles
{
    /// <summary>
    /// The <paramref name="percentile"/>th percentile (0-100) by linear interpolation between closest ranks,
    /// as numpy and most dashboards compute it; null for no values.
    /// </summary>
    public static double? Of(IEnumerable<double> values, double percentile)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(percentile, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(percentile, 100);
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0)
        {
            return null;
        }
        var rank = percentile / 100 * (sorted.Length - 1);
        var lower = (int)Math.Floor(rank);
        var upper = Math.Min(lower + 1, sorted.Length - 1);
        return sorted[lower] + (sorted[upper] - sorted[lower]) * (rank - lower);
    }

    public static double? Median(IEnumerable<double> values) => Of(values, 50);
}
