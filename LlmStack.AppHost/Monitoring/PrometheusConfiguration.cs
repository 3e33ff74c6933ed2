using System.Text;

namespace LlmStack.AppHost.Monitoring;

/// <summary>
/// <c>prometheus/prometheus.yml</c> for the compose deployment: one scrape job per LlmStack service, at its
/// <c>/metrics</c> on the compose network, sending the stack's key as a bearer token (compose turns on
/// <c>LlmStack:Auth:ProtectMetrics</c>). Valid for Prometheus 2.26 and later (<c>promtool check config</c>).
/// </summary>
internal static class PrometheusConfiguration
{
    /// <param name="targets">Job name and the <c>host:port</c> of each replica of each service to scrape.</param>
    /// <param name="credentialsFile">The file in Prometheus's container that holds the API key.</param>
    public static string Write(IEnumerable<(string Job, IReadOnlyList<string> Targets)> targets, string credentialsFile)
    {
        var text = new StringBuilder("""
            # Written by `dotnet run --project LlmStack.AppHost -- --publisher compose`; regenerate rather than edit.
            # Every LlmStack service serves OpenTelemetry's Prometheus exporter at /metrics.
            global:
              scrape_interval: 15s
              evaluation_interval: 15s
            scrape_configs:

            """);
        foreach (var (job, addresses) in targets)
        {
            text.Append($"""
                  - job_name: {job}
                    metrics_path: /metrics
                    authorization:
                      type: Bearer
                      credentials_file: {credentialsFile}
                    static_configs:
                      - targets: [{string.Join(", ", addresses.Select(address => $"\"{address}\""))}]

                """);
        }
        return text.ToString();
    }
}
