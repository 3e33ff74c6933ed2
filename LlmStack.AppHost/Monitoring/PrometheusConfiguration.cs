using System.Text;

namespace LlmStack.AppHost.Monitoring;

/// <summary>
/// <c>prometheus/prometheus.yml</c> for the compose deployment: one scrape job per LlmStack service, at its
/// <c>/metrics</c> on the compose network. Valid for Prometheus 2.x and 3.x (<c>promtool check config</c>).
/// </summary>
internal static class PrometheusConfiguration
{
    /// <param name="targets">Job name and <c>host:port</c> of each service to scrape.</param>
    public static string Write(IEnumerable<(string Job, string Target)> targets)
    {
        var text = new StringBuilder("""
            # Written by `dotnet run --project LlmStack.AppHost -- --publisher compose`; regenerate rather than edit.
            # Every LlmStack service serves OpenTelemetry's Prometheus exporter at /metrics.
            global:
              scrape_interval: 15s
              evaluation_interval: 15s
            scrape_configs:

            """);
        foreach (var (job, target) in targets)
        {
            text.Append($"""
                  - job_name: {job}
                    metrics_path: /metrics
                    static_configs:
                      - targets: ["{target}"]

                """);
        }
        return text.ToString();
    }
}
