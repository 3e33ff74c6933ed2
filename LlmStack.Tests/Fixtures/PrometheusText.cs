using System.Globalization;

namespace LlmStack.Tests.Fixtures;

/// <summary>Reads what Prometheus scrapes from <c>/metrics</c>.</summary>
public static class PrometheusText
{
    /// <summary>The sum of every sample of <paramref name="name"/> whose labels include all of <paramref name="labels"/>.</summary>
    public static double Sum(string metrics, string name, params string[] labels) => Values(metrics, name, labels).Sum();

    /// <summary>Every sample of <paramref name="name"/> whose labels include all of <paramref name="labels"/>.</summary>
    public static List<double> Values(string metrics, string name, params string[] labels) =>
        metrics.Split('\n')
            .Where(line => line.StartsWith(name + "{", StringComparison.Ordinal) && labels.All(label => line.Contains(label, StringComparison.Ordinal)))
            .Select(line => double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture))
            .ToList();

    /// <summary>
    /// Scrapes <c>/metrics</c> until <paramref name="ready"/> holds: a request is recorded when its response has
    /// been completely sent, an instant after its client has read the last byte. Fails the test past <paramref name="timeout"/>.
    /// </summary>
    public static async Task<string> ScrapeWhenAsync(HttpClient client, Func<string, bool> ready, TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        var metrics = "";
        try
        {
            while (!ready(metrics = await client.GetStringAsync("/metrics", deadline.Token)))
            {
                await Task.Delay(TimeSpan.FromMilliseconds(50), deadline.Token);
            }
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            Assert.Fail($"/metrics did not show what the test waits for within {timeout.TotalSeconds} s:\n{metrics}");
        }
        return metrics;
    }
}
