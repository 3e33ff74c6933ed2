using System.Globalization;
using System.Text;
using LlmStack.Api.Models;
using LlmStack.Tests.Fixtures;

namespace LlmStack.Tests.Api;

/// <summary>What Prometheus scrapes from <c>/metrics</c> after real requests.</summary>
/// <remarks>
/// Run alone: OpenTelemetry aggregates the same-named instruments of every API host in the test process into
/// one stream, and drops that stream when any of those hosts stops - a test host stopping in parallel would
/// take this test's series with it. (One API per process, as in production, has neither effect.)
/// </remarks>
[Collection(nameof(MetricsTests))]
public sealed class MetricsTests(GeneratedModels models)
{
    private const int Requests = 5;

    // OpenTelemetry listens to meters by name process-wide, so APIs of tests running in parallel feed every
    // /metrics: a model id of its own keeps this test's series apart.
    private const string Model = "metrics-scripted";

    private const string ModelLabel = $"gen_ai_request_model=\"{Model}\"";

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task After_N_requests_the_histograms_count_N()
    {
        await using var app = new ApiApplication([new ModelOptions { Id = Model, Backend = "embedded", Path = models.Scripted }]);
        using var client = app.CreateClient();

        for (var i = 0; i < Requests; i++)
        {
            using var response = await client.PostAsync("/v1/chat/completions", new StringContent(
                """{"model":"metrics-scripted","stream":true,"messages":[{"role":"user","content":"Hi!"}]}""", Encoding.UTF8, "application/json"), Cancel);
            Assert.EndsWith("data: [DONE]\n\n", await response.Content.ReadAsStringAsync(Cancel));
        }
        var metrics = await client.GetStringAsync("/metrics", Cancel);

        Assert.Equal(Requests, Sum(metrics, "gen_ai_server_time_to_first_token_seconds_count", ModelLabel));
        Assert.Equal(Requests, Sum(metrics, "gen_ai_server_request_duration_seconds_count", ModelLabel));
        Assert.Equal(Requests, Sum(metrics, "gen_ai_server_time_per_output_token_seconds_count", ModelLabel));
        Assert.Equal(Requests, Sum(metrics, "gen_ai_client_token_usage_count", ModelLabel, "gen_ai_token_type=\"output\""));
        Assert.Equal(Requests * GeneratedModels.PiecesOf(GeneratedModels.ScriptedReply).Count, Sum(metrics, "gen_ai_client_token_usage_sum", ModelLabel, "gen_ai_token_type=\"output\""));
        Assert.Equal(0, Sum(metrics, "llmstack_requests_active", ModelLabel));
        Assert.Contains("gen_ai_operation_name=\"chat\"", metrics);
        // Microsoft.Extensions.AI's histogram of the same name is dropped; declared twice, a scrape would be rejected.
        Assert.Single(metrics.Split('\n'), line => line.StartsWith("# TYPE gen_ai_client_token_usage ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Queue_and_activity_gauges_and_rejection_counters_exist_at_0_before_the_first_request()
    {
        const string model = "gauges-scripted";
        await using var app = new ApiApplication([new ModelOptions { Id = model, Backend = "embedded", Path = models.Scripted }]);
        using var client = app.CreateClient();

        var metrics = await client.GetStringAsync("/metrics", Cancel);

        foreach (var gauge in new[] { "llmstack_requests_queued", "llmstack_requests_active" })
        {
            Assert.Equal([0.0], Values(metrics, gauge, $"gen_ai_request_model=\"{model}\""));
        }
        foreach (var reason in new[] { "auth", "rate", "queue_full", "queue_timeout", "draining" })
        {
            Assert.Contains(0.0, Values(metrics, "llmstack_requests_rejected_total", $"llmstack_rejection_reason=\"{reason}\""));
        }
    }

    private static double Sum(string metrics, string name, params string[] labels) => Values(metrics, name, labels).Sum();

    private static List<double> Values(string metrics, string name, params string[] labels) =>
        metrics.Split('\n')
            .Where(line => line.StartsWith(name + "{", StringComparison.Ordinal) && labels.All(label => line.Contains(label, StringComparison.Ordinal)))
            .Select(line => double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture))
            .ToList();
}

[CollectionDefinition(nameof(MetricsTests), DisableParallelization = true)]
public sealed class MetricsTestsCollection;
