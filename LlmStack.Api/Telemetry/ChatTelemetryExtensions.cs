using OpenTelemetry.Metrics;

namespace LlmStack.Api.Telemetry;

public static class ChatTelemetryExtensions
{
    /// <summary>
    /// Fits Microsoft.Extensions.AI's client instruments beside LlmStack's own. Both libraries name their
    /// token histogram <c>gen_ai.client.token.usage</c>; exported side by side they would be one Prometheus
    /// family declared twice, which scrapers reject. LlmStack's (with the request model and error type) is kept.
    /// </summary>
    public static IHostApplicationBuilder AddChatTelemetry(this IHostApplicationBuilder builder)
    {
        builder.Services.ConfigureOpenTelemetryMeterProvider(metrics => metrics.AddView(instrument =>
            instrument.Name == "gen_ai.client.token.usage" && instrument.Meter.Name != LlmStackMetrics.MeterName
                ? MetricStreamConfiguration.Drop
                : null));
        return builder;
    }
}
