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

    /// <summary>
    /// A distribution-free confidence interval for the median (95% by default): the order statistics at ranks
    /// n/2 - z*sqrt(n)/2 (rounded down) and 1 + n/2 + z*sqrt(n)/2 (rounded up), the normal approximation to the
    /// binomial (Conover, Practical Nonparametric Statistics); null for no values.
    /// </summary>
    public static (double Low, double High)? MedianInterval(IEnumerable<double> values, double z = 1.96)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0)
        {
            return null;
        }
        var n = sorted.Length;
        var half = z * Math.Sqrt(n) / 2;
        var low = Math.Clamp((int)Math.Floor(n / 2.0 - half), 1, n);
        var high = Math.Clamp((int)Math.Ceiling(1 + n / 2.0 + half), 1, n);
        return (sorted[low - 1], sorted[high - 1]);
    }
}
