using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace LlmStack.Tests.Containers;

/// <summary>
/// The Grafana dashboard the compose publisher writes, query by query, as Grafana would run it against the stack's
/// running Prometheus (Grafana's own image is not available here): after two rounds of traffic - chats streamed and
/// not, to the deployment's model, to a model with two replicas of which one is dead, and to one whose replies fail -
/// each panel's PromQL is evaluated over the last minutes and must return series with a value.
/// </summary>
[Collection(ProxiedCpuStackTests.Collection)]
public sealed class DashboardQueryTests(ProxiedCpuStack proxied)
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    private static readonly HttpClient Http = new() { Timeout = Bound };

    /// <summary>Grafana's <c>$__rate_interval</c> with Prometheus's 15 s scrape interval: four intervals.</summary>
    private const string RateInterval = "1m";

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private ComposeStack Stack => proxied.Stack;

    [Fact]
    public async Task Every_panel_query_returns_data_from_the_running_prometheus()
    {
        Assert.SkipWhen(proxied.UnavailableReason is not null, proxied.UnavailableReason ?? "");
        var queries = DashboardQueries();
        Assert.True(queries.Count >= 10, $"the dashboard has only {queries.Count} queries");
        var start = DateTimeOffset.UtcNow - TimeSpan.FromMinutes(1);

        // A rate needs two scrapes of a changed series: traffic, a scrape, more traffic, another scrape - and one more, so
        // that the range has evaluation steps after the second (a series first seen in the first has no rate before it).
        for (var round = 0; round < 2; round++)
        {
            await TrafficAsync();
            await WaitForScrapeAfterAsync(DateTimeOffset.UtcNow);
        }
        await WaitForScrapeAfterAsync(DateTimeOffset.UtcNow);

        var empty = new List<string>();
        foreach (var (panel, expression) in queries)
        {
            var result = await QueryRangeAsync(expression, start, DateTimeOffset.UtcNow);
            var values = result.SelectMany(series => series!["values"]!.AsArray()).Select(v => (string)v![1]!).ToList();
            if (!values.Any(v => double.TryParse(v, CultureInfo.InvariantCulture, out var value) && !double.IsNaN(value)))
            {
                empty.Add($"{panel}: {expression} ({result.Count} series, {values.Count} values, none a number)");
            }
        }
        Assert.True(empty.Count == 0, $"Panels without data:{Environment.NewLine}{string.Join(Environment.NewLine, empty)}");
    }

    /// <summary>Every target of every panel in grafana/dashboards/llmstack.json, with Grafana's variables as the dashboard's defaults give them.</summary>
    private List<(string Panel, string Expression)> DashboardQueries()
    {
        var dashboard = JsonNode.Parse(File.ReadAllText(Path.Combine(Stack.Compose.Directory, "grafana", "dashboards", "llmstack.json")))!;
        var model = (string)dashboard["templating"]!["list"]!.AsArray().Single(v => (string?)v!["name"] == "model")!["allValue"]!;
        return
        [
            .. dashboard["panels"]!.AsArray()
                .SelectMany(panel => panel!["targets"]!.AsArray().Select(target => (
                    Panel: (string)panel["title"]!,
                    Expression: ((string)target!["expr"]!).Replace("$__rate_interval", RateInterval, StringComparison.Ordinal)
                        .Replace("$model", model, StringComparison.Ordinal)))),
        ];
    }

    /// <summary>
    /// Chats streamed and not, concurrently, to both models (the replicated one's dead replica fails until it is ejected,
    /// each failure retried on the live one); chats to the failing model, streamed and not (the errors panel's series: a
    /// request refused before its model is called, such as an invalid parameter, is counted for no model).
    /// </summary>
    private async Task TrafficAsync()
    {
        var requests = new List<Task<HttpResponseMessage>>();
        foreach (var model in new[] { ProxiedCpuStack.Model, ProxiedCpuStack.ReplicatedModel })
        {
            for (var i = 0; i < 6; i++)
            {
                requests.Add(ChatAsync($$"""{"model":"{{model}}","stream":{{(i % 2 == 0 ? "true" : "false")}},"messages":[{"role":"user","content":"Hello {{i}}"}]}"""));
            }
        }
        foreach (var response in await Task.WhenAll(requests))
        {
            using (response)
            {
                Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync(Cancel));
            }
        }
        foreach (var stream in new[] { false, true })
        {
            using var failed = await ChatAsync($$"""{"model":"{{ProxiedCpuStack.FailingModel}}","stream":{{(stream ? "true" : "false")}},"messages":[{"role":"user","content":"Hello"}]}""");
            var body = await failed.Content.ReadAsStringAsync(Cancel);
            // An error status (the failure came before anything was sent), or a stream that began and ends with an error event.
            Assert.True((int)failed.StatusCode >= 500 || (stream && failed.StatusCode == HttpStatusCode.OK && body.Contains("\"error\"", StringComparison.Ordinal)), body);
        }
    }

    private Task<HttpResponseMessage> ChatAsync(string body) => Http.SendAsync(new HttpRequestMessage(HttpMethod.Post, new Uri(Stack.Api, "v1/chat/completions"))
    {
        Content = new StringContent(body, Encoding.UTF8, "application/json"),
        Headers = { Authorization = new("Bearer", Stack.ApiKey) },
    }, Cancel);

    /// <summary>Waits until Prometheus has scraped the API after <paramref name="after"/> (its targets' lastScrape).</summary>
    private async Task WaitForScrapeAfterAsync(DateTimeOffset after)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        var last = "";
        while (DateTime.UtcNow < deadline)
        {
            var targets = JsonNode.Parse(await Http.GetStringAsync(new Uri(Stack.Prometheus, "api/v1/targets"), Cancel))!["data"]!["activeTargets"]!.AsArray();
            var api = targets.Single(t => (string?)t!["labels"]!["job"] == "api")!;
            last = $"{(string?)api["health"]} {(string?)api["lastScrape"]} {(string?)api["lastError"]}";
            if ((string?)api["health"] == "up" && DateTimeOffset.Parse((string)api["lastScrape"]!, CultureInfo.InvariantCulture) > after)
            {
                return;
            }
            await Task.Delay(TimeSpan.FromSeconds(1), Cancel);
        }
        throw new TimeoutException($"Prometheus did not scrape the API after {after:O} within 90 s: {last}");
    }

    /// <summary>A range query, as a Grafana time series panel makes it; throws on a PromQL error.</summary>
    private async Task<JsonArray> QueryRangeAsync(string expression, DateTimeOffset start, DateTimeOffset end)
    {
        using var response = await Http.PostAsync(new Uri(Stack.Prometheus, "api/v1/query_range"), new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["query"] = expression,
            ["start"] = start.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture),
            ["end"] = end.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture),
            ["step"] = "5",
        }), Cancel);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync(Cancel))!;
        Assert.True((string?)body["status"] == "success", $"{expression}: {body.ToJsonString()}");
        return body["data"]!["result"]!.AsArray();
    }
}
