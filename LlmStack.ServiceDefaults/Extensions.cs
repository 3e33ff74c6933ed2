using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Cross-cutting wiring shared by every LlmStack service: OpenTelemetry (OTLP and Prometheus), health
/// endpoints, service discovery for every HTTP client, and an HTTP resilience pipeline tuned for LLM calls for the
/// clients that opt in (<see cref="AddLlmResilienceHandler"/>).
/// </summary>
public static class Extensions
{
    /// <summary>Liveness: the process answers. Every service maps it.</summary>
    public const string LivenessPath = "/healthz";

    /// <summary>Readiness: every check tagged <see cref="ReadyTag"/> is healthy.</summary>
    public const string ReadinessPath = "/readyz";

    /// <summary>Prometheus scraping endpoint.</summary>
    public const string MetricsPath = "/metrics";

    /// <summary>Tag of the health checks that gate readiness (backend reachable, model present).</summary>
    public const string ReadyTag = "ready";

    private const string LiveTag = "live";

    public static TBuilder AddServiceDefaults<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.ConfigureOpenTelemetry();
        builder.AddDefaultHealthChecks();
        builder.Services.AddServiceDiscovery();
        // Behind LlmStack:TrustedProxy (the compose stack's TLS proxy), that proxy's forwarded headers, and no one else's.
        TrustedProxy.Register(builder);

        // Resilience is not a default: what a retry or a timeout may do differs per client (a completion must never
        // be sent twice; a health probe that retries hides an outage), so each client that wants it says so.
        builder.Services.ConfigureHttpClientDefaults(http => http.AddServiceDiscovery());

        return builder;
    }

    /// <summary>
    /// The standard resilience pipeline with LLM-sized timeouts: a local 7B model on a CPU can take minutes
    /// to answer, far beyond the 10 s attempt timeout of the defaults. Unsafe methods (POST: every
    /// completion) are never retried, so a generation is never started twice and a stream that has begun is
    /// never replayed; GETs (model lists, health probes) still are.
    /// </summary>
    public static IHttpClientBuilder AddLlmResilienceHandler(this IHttpClientBuilder http)
    {
        http.AddStandardResilienceHandler(options =>
        {
            options.AttemptTimeout.Timeout = TimeSpan.FromMinutes(10);
            options.TotalRequestTimeout.Timeout = TimeSpan.FromMinutes(15);
            options.CircuitBreaker.SamplingDuration = TimeSpan.FromMinutes(20);
            options.Retry.DisableForUnsafeHttpMethods();
        });
        // The response body of a stream is read after the pipeline returns; HttpClient's own 100 s timeout
        // would still cut a long generation, so the resilience timeouts above are the ones that count.
        http.ConfigureHttpClient(client => client.Timeout = Timeout.InfiniteTimeSpan);
        return http;
    }

    public static TBuilder ConfigureOpenTelemetry<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Logging.AddOpenTelemetry(logging =>
        {
            logging.IncludeFormattedMessage = true;
            logging.IncludeScopes = true;
        });

        builder.Services.AddOpenTelemetry()
            .WithMetrics(metrics =>
            {
                metrics.AddAspNetCoreInstrumentation()
                    .AddHttpClientInstrumentation()
                    .AddRuntimeInstrumentation()
                    .AddMeter("LlmStack.*")
                    .AddMeter("Experimental.Microsoft.Extensions.AI*")
                    .AddPrometheusExporter();
            })
            .WithTracing(tracing =>
            {
                tracing.AddSource(builder.Environment.ApplicationName)
                    .AddSource("LlmStack.*")
                    .AddSource("Experimental.Microsoft.Extensions.AI*")
                    .AddAspNetCoreInstrumentation(aspnet =>
                        // Probes and scrapes arrive every few seconds; tracing them would bury the real requests.
                        aspnet.Filter = context => !IsInfrastructurePath(context.Request.Path))
                    .AddHttpClientInstrumentation();
            });

        builder.AddOpenTelemetryExporters();
        return builder;
    }

    private static TBuilder AddOpenTelemetryExporters<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        // Blank means "no collector": the test host sets it so that nothing waits on an exporter at shutdown.
        var useOtlpExporter = !string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        if (useOtlpExporter)
        {
            builder.Services.AddOpenTelemetry().UseOtlpExporter();
        }

        return builder;
    }

    public static TBuilder AddDefaultHealthChecks<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddHealthChecks()
            .AddCheck("self", () => HealthCheckResult.Healthy(), [LiveTag]);
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<Readiness>();
        return builder;
    }

    /// <summary>
    /// Maps <c>/healthz</c>, <c>/readyz</c> and <c>/metrics</c>, in every environment. Health probes never need
    /// credentials (orchestrators and load balancers send none), but <c>/readyz</c> tells its details (which
    /// backends, where, why not) only to a caller that passes <paramref name="readinessDetailsPolicy"/> (every
    /// caller when it is null), and probes at most once every few seconds (<see cref="Readiness"/>);
    /// <c>/metrics</c> is open unless <paramref name="metricsPolicy"/> names an authorization policy for it.
    /// </summary>
    public static WebApplication MapDefaultEndpoints(this WebApplication app, string? metricsPolicy = null, string? readinessDetailsPolicy = null)
    {
        app.MapHealthChecks(LivenessPath, new HealthCheckOptions
        {
            Predicate = check => check.Tags.Contains(LiveTag),
        }).AllowAnonymous();
        Readiness.Map(app, readinessDetailsPolicy);
        var metrics = app.MapPrometheusScrapingEndpoint(MetricsPath);
        if (metricsPolicy is null)
        {
            metrics.AllowAnonymous();
        }
        else
        {
            metrics.RequireAuthorization(metricsPolicy);
        }
        return app;
    }

    private static bool IsInfrastructurePath(PathString path) =>
        path.StartsWithSegments(LivenessPath) || path.StartsWithSegments(ReadinessPath) || path.StartsWithSegments(MetricsPath);
}
