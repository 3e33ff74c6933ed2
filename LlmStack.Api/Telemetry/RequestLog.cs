using LlmStack.Api.Pipeline;

namespace LlmStack.Api.Telemetry;

/// <summary>
/// The one structured log event of an API request (request id, API key name, model, stream, status, finish reason, token
/// counts, time to first token, duration), written when the response has completed, however it ended:
/// answered, refused with a 4xx, failed, or abandoned by the client. Its figures are the request's
/// <see cref="RequestOutcome"/>, the same the metrics record. Prompt and completion text are included only when
/// <c>LlmStack:LogContent</c> is true.
/// </summary>
internal static partial class RequestLog
{
    /// <param name="apiKey">The name of the API key the request came with (never the secret); null on an open API.</param>
    internal static void Write(ILogger logger, string requestId, string? apiKey, RequestOutcome outcome, int status, TimeSpan duration, string? errorType)
    {
        var level = status >= StatusCodes.Status500InternalServerError ? LogLevel.Warning : LogLevel.Information;
        if (!logger.IsEnabled(level))
        {
            return;
        }
        var ttftMs = outcome.TimeToFirstToken?.TotalMilliseconds;
        var (model, usage) = (outcome.Model?.Id, outcome.Usage);
        if (outcome.Completion is { } completion)
        {
            LogRequestWithContent(logger, level, outcome.Operation, requestId, apiKey, model, outcome.Stream, status, outcome.FinishReason,
                usage?.InputTokenCount, usage?.OutputTokenCount, ttftMs, duration.TotalMilliseconds, errorType, outcome.Prompt, completion);
        }
        else
        {
            LogRequest(logger, level, outcome.Operation, requestId, apiKey, model, outcome.Stream, status, outcome.FinishReason,
                usage?.InputTokenCount, usage?.OutputTokenCount, ttftMs, duration.TotalMilliseconds, errorType);
        }
    }

    [LoggerMessage(EventId = 1, EventName = "Request",
        Message = "{Operation} {RequestId} key={ApiKey} model={Model} stream={Stream} status={Status} finish={FinishReason} prompt_tokens={PromptTokens} completion_tokens={CompletionTokens} ttft_ms={TimeToFirstTokenMs} duration_ms={DurationMs} error={ErrorCode}")]
    private static partial void LogRequest(ILogger logger, LogLevel level, string operation, string requestId, string? apiKey, string? model, bool stream, int status,
        string? finishReason, long? promptTokens, long? completionTokens, double? timeToFirstTokenMs, double durationMs, string? errorCode);

    [LoggerMessage(EventId = 2, EventName = "RequestWithContent",
        Message = "{Operation} {RequestId} key={ApiKey} model={Model} stream={Stream} status={Status} finish={FinishReason} prompt_tokens={PromptTokens} completion_tokens={CompletionTokens} ttft_ms={TimeToFirstTokenMs} duration_ms={DurationMs} error={ErrorCode} prompt={Prompt} completion={Completion}")]
    private static partial void LogRequestWithContent(ILogger logger, LogLevel level, string operation, string requestId, string? apiKey, string? model, bool stream, int status,
        string? finishReason, long? promptTokens, long? completionTokens, double? timeToFirstTokenMs, double durationMs, string? errorCode, string? prompt, string completion);
}
