using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;

namespace LlmStack.AppHost.Embedded;

/// <summary>What the API's readiness report says of a model (<c>"&lt;backend&gt;: &lt;status&gt; - &lt;why&gt;"</c>).</summary>
internal enum ModelReadiness
{
    /// <summary>The API does not answer, or does not list the model (yet).</summary>
    Unknown,

    /// <summary>On its way: downloading, verifying or loading.</summary>
    Loading,

    Ready,

    /// <summary>It cannot be brought up (until the API restarts).</summary>
    Failed,
}

/// <summary>
/// One look at a model in the API: its readiness and the API's sentence about it (<c>/readyz</c>), and the bytes of
/// its file present and the file's size (<c>llmstack_model_download_bytes</c> and <c>llmstack_model_download_size_bytes</c>
/// on <c>/metrics</c>; 0 until the hub has told the size).
/// </summary>
internal sealed record ApiModelStatus(ModelReadiness Readiness, string? Detail, long DoneBytes, long TotalBytes)
{
    public const string HttpClientName = "llmstack-api-apphost";

    /// <summary>How long one look may take; an API slower than this is reported as not answering.</summary>
    public static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Percent of the file present, once its size is known.</summary>
    public int? Percent => TotalBytes > 0 ? (int)Math.Min(100, 100 * DoneBytes / TotalBytes) : null;

    /// <summary>
    /// The AppHost's client for the API. Its request logging is off: a look every second would flood the AppHost's
    /// console, and what it learns shows in the model's state and log anyway.
    /// </summary>
    public static IServiceCollection AddApiHttpClient(IServiceCollection services)
    {
        services.AddHttpClient(HttpClientName).RemoveAllLoggers();
        return services;
    }

    /// <summary>Asks the API (with the stack's key: details and metrics are for keyed callers) about <paramref name="model"/>.</summary>
    public static async Task<ApiModelStatus> ReadAsync(EmbeddedModelResource model, string apiKey, IServiceProvider services, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ProbeTimeout);
        var http = services.GetRequiredService<IHttpClientFactory>().CreateClient(HttpClientName);
        var root = new Uri(model.Parent.GetEndpoint("http").Url.TrimEnd('/') + "/");

        string readiness;
        using (var request = Request(new Uri(root, "readyz"), apiKey))
        using (var response = await http.SendAsync(request, timeout.Token))
        {
            // 503 is the report of a model not ready yet; anything else but 200 is no report at all.
            if (!response.IsSuccessStatusCode && response.StatusCode != System.Net.HttpStatusCode.ServiceUnavailable)
            {
                return new(ModelReadiness.Unknown, $"/readyz answered {(int)response.StatusCode} {response.ReasonPhrase}", 0, 0);
            }
            readiness = await response.Content.ReadAsStringAsync(timeout.Token);
        }
        string metrics;
        using (var request = Request(new Uri(root, "metrics"), apiKey))
        using (var response = await http.SendAsync(request, timeout.Token))
        {
            response.EnsureSuccessStatusCode();
            metrics = await response.Content.ReadAsStringAsync(timeout.Token);
        }

        var (state, detail) = ParseReadiness(readiness, model.ModelId);
        return new(state, detail,
            Gauge(metrics, "llmstack_model_download_bytes", model.ModelId),
            Gauge(metrics, "llmstack_model_download_size_bytes", model.ModelId));
    }

    private static HttpRequestMessage Request(Uri url, string apiKey) => new(HttpMethod.Get, url)
    {
        Headers = { Authorization = new AuthenticationHeaderValue("Bearer", apiKey) },
    };

    /// <summary>The model's entry in the report's <c>models</c> check: <c>"embedded: Degraded - downloading ..."</c>.</summary>
    internal static (ModelReadiness State, string? Detail) ParseReadiness(string json, string modelId)
    {
        using var report = JsonDocument.Parse(json);
        if (!report.RootElement.TryGetProperty("checks", out var checks) || checks.ValueKind != JsonValueKind.Array)
        {
            return (ModelReadiness.Unknown, null);
        }
        foreach (var check in checks.EnumerateArray())
        {
            if (check.TryGetProperty("name", out var name) && name.ValueEquals("models")
                && check.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Object
                && data.TryGetProperty(modelId, out var entry) && entry.GetString() is { } text)
            {
                // "<backend>: <status> - <why>", as the API's ModelReadinessHealthCheck writes it.
                var parts = text.Split(" - ", 2);
                var status = parts[0][(parts[0].IndexOf(':') + 1)..].Trim();
                var detail = parts.Length > 1 ? parts[1] : null;
                return status switch
                {
                    "Healthy" => (ModelReadiness.Ready, detail),
                    "Unhealthy" => (ModelReadiness.Failed, detail),
                    _ => (ModelReadiness.Loading, detail),
                };
            }
        }
        return (ModelReadiness.Unknown, null);
    }

    /// <summary>The value of <paramref name="metric"/> for <paramref name="modelId"/> in Prometheus' text format; 0 when absent.</summary>
    internal static long Gauge(string metrics, string metric, string modelId)
    {
        var label = $"gen_ai_request_model=\"{modelId.Replace("\\", "\\\\").Replace("\"", "\\\"")}\"";
        foreach (var line in metrics.AsSpan().EnumerateLines())
        {
            if (!line.StartsWith(metric) || line.Length <= metric.Length || line[metric.Length] != '{')
            {
                continue;
            }
            var close = line.IndexOf('}');
            if (close < 0)
            {
                continue;
            }
            var labels = line[..close];
            if (labels.IndexOf("{" + label, StringComparison.Ordinal) < 0 && labels.IndexOf("," + label, StringComparison.Ordinal) < 0)
            {
                continue;
            }
            var value = line[(close + 1)..].Trim();
            var end = value.IndexOf(' ');
            if (double.TryParse(end < 0 ? value : value[..end], NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
            {
                return (long)number;
            }
        }
        return 0;
    }
}
