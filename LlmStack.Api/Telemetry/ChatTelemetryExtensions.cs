using LlmStack.Api.Pipeline;

namespace LlmStack.Api.Telemetry;

internal static class ChatTelemetryExtensions
{
    /// <summary>
    /// LlmStack's server metrics and request log (<see cref="RequestTelemetry"/>), beside Microsoft.Extensions.AI's
    /// client telemetry of the pipeline below them (<c>gen_ai.client.*</c>: different names, nothing to drop).
    /// </summary>
    public static IHostApplicationBuilder AddChatTelemetry(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<LlmStackMetrics>();
        builder.Services.AddSingleton<RequestTelemetry>();
        builder.Services.AddSingleton<ModelPipelineBuilder>();

        // Its client logs every failed call as a warning with a stack trace - a client hanging up included.
        // Each request already gets one structured event from RequestLog (status 499 for a hang-up, the error
        // code otherwise), so only its errors are kept.
        builder.Logging.AddFilter("Microsoft.Extensions.AI.OpenTelemetryChatClient", LogLevel.Error);
        builder.Logging.AddFilter("Microsoft.Extensions.AI.OpenTelemetryEmbeddingGenerator", LogLevel.Error);
        return builder;
    }
}
