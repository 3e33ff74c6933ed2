using System.Text.Json;
using System.Text.Json.Nodes;

namespace LlmStack.AppHost.Monitoring;

/// <summary>
/// The Grafana side of the compose deployment: a Prometheus data source, a dashboard provider, and the
/// "LlmStack" dashboard over the metrics the API exports at <c>/metrics</c> (names as the Prometheus exporter
/// writes them; see the README's metrics table), per model, and a row per replica of models with several backends.
/// </summary>
internal static class GrafanaDashboard
{
    public const string DataSourceUid = "llmstack-prometheus";
    public const string DashboardUid = "llmstack";

    /// <summary>The time-to-first-token target the TTFT panel draws its threshold at.</summary>
    public const double TimeToFirstTokenTargetSeconds = 0.3;

    private const string ModelFilter = "gen_ai_request_model=~\"$model\"";

    /// <summary><c>grafana/provisioning/datasources/prometheus.yml</c>.</summary>
    public static string DataSource(string prometheusUrl) => $"""
        # Written by the LlmStack compose publisher. Grafana reads it at start (provisioning).
        apiVersion: 1
        datasources:
          - name: Prometheus
            uid: {DataSourceUid}
            type: prometheus
            access: proxy
            url: {prometheusUrl}
            isDefault: true
            editable: false
        """;

    /// <summary><c>grafana/provisioning/dashboards/llmstack.yml</c>: load the dashboards in <paramref name="folder"/>.</summary>
    public static string DashboardProvider(string folder) => $"""
        # Written by the LlmStack compose publisher. Grafana loads every dashboard JSON in the folder below.
        apiVersion: 1
        providers:
          - name: LlmStack
            type: file
            disableDeletion: true
            allowUiUpdates: false
            options:
              path: {folder}
        """;

    /// <summary>The panels: each a title, a unit and its PromQL queries (legend per model).</summary>
    public static IReadOnlyList<Panel> Panels { get; } =
    [
        new("Time to first token (p50, p95) vs the 300 ms target", "s",
        [
            new(Quantile(0.50, "gen_ai_server_time_to_first_token_seconds"), "p50 {{gen_ai_request_model}}"),
            new(Quantile(0.95, "gen_ai_server_time_to_first_token_seconds"), "p95 {{gen_ai_request_model}}"),
        ], Threshold: TimeToFirstTokenTargetSeconds),
        new("Output tokens per second", "none",
        [
            new($$"""sum by (gen_ai_request_model) (rate(gen_ai_server_token_usage_sum{gen_ai_token_type="output", {{ModelFilter}}}[$__rate_interval]))""", "{{gen_ai_request_model}}"),
        ]),
        new("Time per output token (p50, p95)", "s",
        [
            new(Quantile(0.50, "gen_ai_server_time_per_output_token_seconds"), "p50 {{gen_ai_request_model}}"),
            new(Quantile(0.95, "gen_ai_server_time_per_output_token_seconds"), "p95 {{gen_ai_request_model}}"),
        ]),
        new("Requests in flight and queued", "none",
        [
            new($$"""sum by (gen_ai_request_model) (llmstack_requests_active{{{ModelFilter}}})""", "in flight {{gen_ai_request_model}}"),
            new($$"""sum by (gen_ai_request_model) (llmstack_requests_queued{{{ModelFilter}}})""", "queued {{gen_ai_request_model}}"),
        ]),
        new("Errors by type", "reqps",
        [
            new($$"""sum by (gen_ai_request_model, error_type) (rate(gen_ai_server_request_duration_seconds_count{error_type!="", {{ModelFilter}}}[$__rate_interval]))""", "{{error_type}} {{gen_ai_request_model}}"),
        ]),
        new("Requests per second", "reqps",
        [
            new($$"""sum by (gen_ai_request_model) (rate(gen_ai_server_request_duration_seconds_count{{{ModelFilter}}}[$__rate_interval]))""", "{{gen_ai_request_model}}"),
        ]),
        new("Queue time (p95)", "s",
        [
            new(Quantile(0.95, "llmstack_request_queue_time_seconds"), "p95 {{gen_ai_request_model}}"),
        ]),
    ];

    /// <summary>The title of the row of <see cref="ReplicaPanels"/>.</summary>
    public const string ReplicaRowTitle = "Replicas (models with several backends)";

    private const string ReplicaLegend = "{{server_address}} {{gen_ai_request_model}}";

    /// <summary>
    /// The replicas of models served by several backends (<c>LlmStack:Models:&lt;n&gt;:Replicas</c>), one series per
    /// <c>server.address</c>: their series exist only where such a model is configured.
    /// </summary>
    public static IReadOnlyList<Panel> ReplicaPanels { get; } =
    [
        new("Replica requests per second", "reqps",
        [
            new($$"""sum by (gen_ai_request_model, server_address) (rate(llmstack_replica_requests_total{{{ModelFilter}}}[$__rate_interval]))""", ReplicaLegend),
        ]),
        new("Replica requests in flight", "none",
        [
            new($$"""sum by (gen_ai_request_model, server_address) (llmstack_replica_active{{{ModelFilter}}})""", ReplicaLegend),
        ]),
        new("Replica time to first token (p50, p95)", "s",
        [
            new(ReplicaQuantile(0.50, "llmstack_replica_time_to_first_token_seconds"), "p50 " + ReplicaLegend),
            new(ReplicaQuantile(0.95, "llmstack_replica_time_to_first_token_seconds"), "p95 " + ReplicaLegend),
        ], Threshold: TimeToFirstTokenTargetSeconds),
        new("Replica errors by type", "reqps",
        [
            new($$"""sum by (gen_ai_request_model, server_address, error_type) (rate(llmstack_replica_errors_total{{{ModelFilter}}}[$__rate_interval]))""", "{{error_type}} " + ReplicaLegend),
        ]),
        new("Replicas in rotation, ejections", "none",
        [
            new($$"""sum by (gen_ai_request_model, server_address) (llmstack_replica_in_rotation{{{ModelFilter}}})""", "in rotation " + ReplicaLegend),
            new($$"""sum by (gen_ai_request_model, server_address) (increase(llmstack_replica_ejections_total{{{ModelFilter}}}[$__rate_interval]))""", "ejected " + ReplicaLegend),
        ]),
    ];

    /// <summary>The dashboard JSON (Grafana's schema 39), with a <c>model</c> variable every panel filters on.</summary>
    public static string Json()
    {
        var panels = new JsonArray();
        for (var i = 0; i < Panels.Count; i++)
        {
            panels.Add(PanelJson(Panels[i], id: i + 1, x: i % 2 * 12, y: i / 2 * 8));
        }
        var rowY = (Panels.Count + 1) / 2 * 8;
        panels.Add(new JsonObject
        {
            ["id"] = Panels.Count + 1,
            ["type"] = "row",
            ["title"] = ReplicaRowTitle,
            ["collapsed"] = false,
            ["datasource"] = DataSourceReference(),
            ["gridPos"] = new JsonObject { ["h"] = 1, ["w"] = 24, ["x"] = 0, ["y"] = rowY },
            ["panels"] = new JsonArray(),
            ["targets"] = new JsonArray(),
        });
        for (var i = 0; i < ReplicaPanels.Count; i++)
        {
            panels.Add(PanelJson(ReplicaPanels[i], id: Panels.Count + 2 + i, x: i % 2 * 12, y: rowY + 1 + (i / 2 * 8)));
        }

        var dashboard = new JsonObject
        {
            ["uid"] = DashboardUid,
            ["title"] = "LlmStack",
            ["description"] = "LlmStack API: time to first token against the 300 ms target, output speed, load and errors, per model.",
            ["tags"] = new JsonArray("llmstack", "llm"),
            ["schemaVersion"] = 39,
            ["version"] = 1,
            ["editable"] = false,
            ["refresh"] = "10s",
            ["time"] = new JsonObject { ["from"] = "now-1h", ["to"] = "now" },
            ["templating"] = new JsonObject
            {
                ["list"] = new JsonArray(new JsonObject
                {
                    ["name"] = "model",
                    ["label"] = "Model",
                    ["type"] = "query",
                    ["datasource"] = DataSourceReference(),
                    ["query"] = "label_values(gen_ai_server_request_duration_seconds_count, gen_ai_request_model)",
                    ["refresh"] = 2,
                    ["includeAll"] = true,
                    ["multi"] = true,
                    ["allValue"] = ".*",
                    ["current"] = new JsonObject { ["text"] = "All", ["value"] = "$__all" },
                }),
            },
            ["panels"] = panels,
        };
        return dashboard.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    private static string Quantile(double quantile, string histogram) =>
        $$"""histogram_quantile({{quantile:0.00}}, sum by (le, gen_ai_request_model) (rate({{histogram}}_bucket{{{ModelFilter}}}[$__rate_interval])))""";

    private static string ReplicaQuantile(double quantile, string histogram) =>
        $$"""histogram_quantile({{quantile:0.00}}, sum by (le, gen_ai_request_model, server_address) (rate({{histogram}}_bucket{{{ModelFilter}}}[$__rate_interval])))""";

    private static JsonObject DataSourceReference() => new() { ["type"] = "prometheus", ["uid"] = DataSourceUid };

    private static JsonObject PanelJson(Panel panel, int id, int x, int y)
    {
        var targets = new JsonArray();
        for (var i = 0; i < panel.Queries.Count; i++)
        {
            targets.Add(new JsonObject
            {
                ["refId"] = ((char)('A' + i)).ToString(),
                ["datasource"] = DataSourceReference(),
                ["expr"] = panel.Queries[i].Expression,
                ["legendFormat"] = panel.Queries[i].Legend,
            });
        }

        var steps = new JsonArray(new JsonObject { ["color"] = "green", ["value"] = null });
        if (panel.Threshold is { } threshold)
        {
            steps.Add(new JsonObject { ["color"] = "red", ["value"] = threshold });
        }

        return new JsonObject
        {
            ["id"] = id,
            ["type"] = "timeseries",
            ["title"] = panel.Title,
            ["datasource"] = DataSourceReference(),
            ["gridPos"] = new JsonObject { ["h"] = 8, ["w"] = 12, ["x"] = x, ["y"] = y },
            ["fieldConfig"] = new JsonObject
            {
                ["defaults"] = new JsonObject
                {
                    ["unit"] = panel.Unit,
                    ["thresholds"] = new JsonObject { ["mode"] = "absolute", ["steps"] = steps },
                    // The target shows as a dashed line on the graph, not only as a colour.
                    ["custom"] = new JsonObject
                    {
                        ["thresholdsStyle"] = new JsonObject { ["mode"] = panel.Threshold is null ? "off" : "dashed" },
                    },
                },
                ["overrides"] = new JsonArray(),
            },
            ["targets"] = targets,
        };
    }

    internal sealed record Panel(string Title, string Unit, IReadOnlyList<Query> Queries, double? Threshold = null);

    internal sealed record Query(string Expression, string Legend);
}
