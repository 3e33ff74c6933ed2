using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Writes a health report as JSON so a person (or the Web UI's banner) can tell which check is not ready
/// and why: <c>{"status":"Unhealthy","checks":[{"name":"model:qwen2.5:7b","status":"Unhealthy","description":"..."}]}</c>.
/// A report that is not healthy (503) also carries OpenAI's error envelope (<c>"error":{"message","type","param","code"}</c>,
/// code <c>not_ready</c>) and <c>Retry-After</c>, so that an OpenAI client probing it reads the same shape as
/// from any other failed call, and knows when to ask again. Without details (an anonymous caller of a service that
/// has keys) only the status is written: which backends exist, where, and how they fail is not for everyone.
/// </summary>
public static class HealthReportWriter
{
    /// <summary>When a client should probe again: a model being downloaded or loaded is minutes away, not hours.</summary>
    public static readonly TimeSpan NotReadyRetryAfter = TimeSpan.FromSeconds(5);

    public static Task WriteJsonAsync(HttpContext context, HealthReport report) => WriteJsonAsync(context, report, includeDetails: true);

    public static Task WriteJsonAsync(HttpContext context, HealthReport report, bool includeDetails)
    {
        context.Response.ContentType = "application/json; charset=utf-8";
        // Degraded still answers 200: only Unhealthy is "not ready".
        var healthy = report.Status != HealthStatus.Unhealthy;
        if (!healthy)
        {
            context.Response.Headers.RetryAfter = NotReadyRetryAfter.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (!healthy)
            {
                json.WriteStartObject("error");
                json.WriteString("message", includeDetails
                    ? $"Not ready yet ({Reasons(report)}). Retry later."
                    : "Not ready yet. Retry later.");
                json.WriteString("type", "server_error");
                json.WriteNull("param");
                json.WriteString("code", "not_ready");
                json.WriteEndObject();
            }
            json.WriteString("status", report.Status.ToString());
            if (includeDetails)
            {
                WriteDetails(json, report);
            }
            json.WriteEndObject();
        }
        return context.Response.Body.WriteAsync(buffer.ToArray()).AsTask();
    }

    private static void WriteDetails(Utf8JsonWriter json, HealthReport report)
    {
        json.WriteNumber("durationMs", Math.Round(report.TotalDuration.TotalMilliseconds, 1));
        json.WriteStartArray("checks");
        foreach (var (name, entry) in report.Entries)
        {
            json.WriteStartObject();
            json.WriteString("name", name);
            json.WriteString("status", entry.Status.ToString());
            if (entry.Description is { } description)
            {
                json.WriteString("description", description);
            }
            if (entry.Data.Count > 0)
            {
                json.WriteStartObject("data");
                foreach (var (key, value) in entry.Data)
                {
                    json.WriteString(key, Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture));
                }
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        json.WriteEndArray();
    }

    /// <summary>One line for the log: the status, then each check's state, description and data.</summary>
    public static string Describe(HealthReport report) =>
        $"{report.Status}: " + string.Join("; ", report.Entries.Select(e =>
            $"{e.Key} {e.Value.Status}{(e.Value.Description is { } d ? " - " + d : "")}" +
            (e.Value.Data.Count > 0 ? $" ({string.Join(", ", e.Value.Data.Select(kv => $"{kv.Key}: {Convert.ToString(kv.Value, System.Globalization.CultureInfo.InvariantCulture)}"))})" : "")));

    private static string Reasons(HealthReport report) => string.Join("; ", report.Entries
        .Where(e => e.Value.Status != HealthStatus.Healthy)
        .Select(e => e.Value.Description is { } description ? $"{e.Key}: {description}" : e.Key));
}
