using OpenTelemetry.Metrics;

namespace LlmStack.Api.Telemetry;

public static class ChatTelemetryExtensions
{
    /// <summary>
    /// Fits Microsoft.Extensions.AI's telemetry beside LlmStack's own. Both libraries name their
    /// token histogram <c>gen_ai.client.token.usage</c>; exported side by side they would be one Prometheus
    /// family declared twice, which scrapers reject. LlmStack's (with the request model and error type) is kept.
    /// </summary>
    public static IHostApplicationBuilder AddChatTelemetry(this IHostApplicationBuilder builder)
    {
        builder.Services.ConfigureOpenTelemetryMeterProvider(metrics => metrics.AddView(instrument =>
            instrument.Name == "gen_ai.client.token.usage" && instrument.Meter.Name != LlmStackMetrics.MeterName
                ? MetricStreamConfiguration.Drop
                : null));

        // Its client logs every failed call as a warning with a stack trace - a client hanging up included.
        // Each request already gets one structured event from RequestLog (status 499 for a hang-up, the error
        // code otherwise), so only its errors are kept.
        builder.Logging.AddFilter("Microsoft.Extensions.AI.OpenTelemetryChatClient", LogLevel.Error);
        return builder;
    }
}
