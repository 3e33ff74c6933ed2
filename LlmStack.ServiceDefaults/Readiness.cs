using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// <c>/readyz</c> for callers who must not learn or cost anything: the report is probed at most once every
/// <see cref="CacheDuration"/> whoever asks (every caller of that window shares the one probe, so a flood of
/// requests never becomes a flood of backend calls), an anonymous caller gets the status alone, and the details -
/// backend URLs, upstream model lists, exception text - go to a caller that passes the details policy, and to the
/// log whenever they change.
/// </summary>
public sealed partial class Readiness(HealthCheckService health, TimeProvider time, ILogger<Readiness> logger)
{
    /// <summary>How long one probe of every backend answers for: a few seconds, so a banner still follows within one poll.</summary>
    public static readonly TimeSpan CacheDuration = TimeSpan.FromSeconds(3);

    private readonly Lock _gate = new();
    private Task<HealthReport>? _probe;
    private DateTimeOffset _probedAt;
    private string? _lastLogged;

    /// <summary>The latest report: the cached one while it is fresh, else one new probe shared by every caller.</summary>
    public Task<HealthReport> GetReportAsync(CancellationToken cancellationToken)
    {
        Task<HealthReport> probe;
        lock (_gate)
        {
            var fresh = _probe is { } current && (!current.IsCompleted || time.GetUtcNow() - _probedAt < CacheDuration);
            if (!fresh)
            {
                _probedAt = time.GetUtcNow();
                // Not the caller's token: other callers share this probe. Each check bounds its own time.
                _probe = ProbeAsync();
            }
            probe = _probe!;
        }
        return probe.WaitAsync(cancellationToken);
    }

    private async Task<HealthReport> ProbeAsync()
    {
        var report = await health.CheckHealthAsync(check => check.Tags.Contains(Extensions.ReadyTag), CancellationToken.None);
        lock (_gate)
        {
            // A probe that finished late still counts from its end, so slow backends are not probed back to back.
            _probedAt = time.GetUtcNow();
        }
        LogIfChanged(report);
        return report;
    }

    private void LogIfChanged(HealthReport report)
    {
        var summary = HealthReportWriter.Describe(report);
        lock (_gate)
        {
            if (summary == _lastLogged)
            {
                return;
            }
            _lastLogged = summary;
        }
        if (report.Status == HealthStatus.Unhealthy)
        {
            var failure = report.Entries.Values.Select(e => e.Exception).FirstOrDefault(e => e is not null);
            LogNotReady(logger, failure, summary);
        }
        else
        {
            LogReady(logger, summary);
        }
    }

    /// <summary>Maps <see cref="Extensions.ReadinessPath"/> (GET and HEAD, never cached by a client or proxy).</summary>
    internal static IEndpointConventionBuilder Map(WebApplication app, string? detailsPolicy) =>
        app.MapMethods(Extensions.ReadinessPath, [HttpMethods.Get, HttpMethods.Head], async (HttpContext context, Readiness readiness) =>
        {
            var report = await readiness.GetReportAsync(context.RequestAborted);
            var details = detailsPolicy is null || await PassesAsync(context, detailsPolicy);
            context.Response.Headers.CacheControl = "no-store, no-cache";
            context.Response.StatusCode = report.Status == HealthStatus.Unhealthy
                ? StatusCodes.Status503ServiceUnavailable
                : StatusCodes.Status200OK;
            await HealthReportWriter.WriteJsonAsync(context, report, details);
        }).AllowAnonymous();

    /// <summary>Whether the caller passes <paramref name="policy"/>, without challenging one who does not.</summary>
    private static async Task<bool> PassesAsync(HttpContext context, string policyName)
    {
        var services = context.RequestServices;
        var policy = await services.GetRequiredService<IAuthorizationPolicyProvider>().GetPolicyAsync(policyName)
            ?? throw new InvalidOperationException($"No authorization policy named '{policyName}' for {Extensions.ReadinessPath} details.");
        var evaluator = services.GetRequiredService<IPolicyEvaluator>();
        var authentication = await evaluator.AuthenticateAsync(policy, context);
        var result = await evaluator.AuthorizeAsync(policy, authentication, context, resource: null);
        return result.Succeeded;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Not ready: {Report}")]
    private static partial void LogNotReady(ILogger logger, Exception? exception, string report);

    [LoggerMessage(Level = LogLevel.Information, Message = "Ready: {Report}")]
    private static partial void LogReady(ILogger logger, string report);
}
