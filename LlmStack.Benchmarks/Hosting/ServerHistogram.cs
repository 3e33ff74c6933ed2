using System.Globalization;

namespace LlmStack.Benchmarks.Hosting;

/// <summary>
/// A histogram the API reports on <c>/metrics</c> (Prometheus text), summed over its label sets: what the server
/// itself measured, to tell time spent inside the API from time spent between it and the client.
/// </summary>
public readonly record struct ServerHistogram(double Sum, long Count)
{
    /// <summary>The API's own time per output token after the first (its decode speed).</summary>
    public const string TimePerOutputToken = "gen_ai_server_time_per_output_token_seconds";

    public static async Task<ServerHistogram> ReadAsync(HttpClient api, string name, CancellationToken cancellationToken)
    {
        var text = await api.GetStringAsync("metrics", cancellationToken);
        double sum = 0;
        long count = 0;
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith(name + "_sum", StringComparison.Ordinal))
            {
                sum += Value(line);
            }
            else if (line.StartsWith(name + "_count", StringComparison.Ordinal))
            {
                count += (long)Value(line);
            }
        }
        return new ServerHistogram(sum, count);
    }

    /// <summary>The mean of what was recorded between <paramref name="before"/> and this reading; null when nothing was.</summary>
    public double? MeanSince(ServerHistogram before) =>
        Count > before.Count ? (Sum - before.Sum) / (Count - before.Count) : null;

    // "name{labels} value [timestamp]": the value follows the closing brace (or the name when unlabelled).
    private static double Value(string line)
    {
        var start = line.LastIndexOf('}') is var brace and >= 0 ? brace + 1 : line.IndexOf(' ');
        var parts = line[start..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return double.Parse(parts[0], CultureInfo.InvariantCulture);
    }
}
