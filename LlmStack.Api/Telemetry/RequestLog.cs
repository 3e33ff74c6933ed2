using System.Diagnostics;
using System.Text;
using LlmStack.Api.Access;
using LlmStack.Api.Errors;
using LlmStack.Api.Models;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace LlmStack.Api.Telemetry;

/// <summary>
/// The one structured log event of an API request (request id, API key name, model, stream, status, finish reason, token
/// counts, time to first token, duration), written when the response has completed, however it ended:
/// answered, refused with a 4xx, failed, or abandoned by the client. Prompt and completion text are included
/// only when <c>LlmStack:LogContent</c> is true.
/// </summary>
public sealed partial class RequestLog
{
    /// <summary>Status logged for a request whose client went away first (nginx's convention).</summary>
    public const int ClientClosedRequest = 499;

    private readonly long _started = Stopwatch.GetTimestamp();
    private readonly string _operation;
    private readonly StringBuilder? _completion;
    private TimeSpan? _timeToFirstToken;
    private readonly UsageCharge? _usageCharge;
    private bool _clientClosed;

    private RequestLog(string operation, bool logContent, UsageCharge? usageCharge)
    {
        _operation = operation;
        _completion = logContent ? new StringBuilder() : null;
        _usageCharge = usageCharge;
    }

    public string? Model { get; set; }

    public bool Stream { get; set; }

    public string? FinishReason { get; private set; }

    public long? PromptTokens { get; private set; }

    public long? CompletionTokens { get; private set; }

    public string? ErrorCode { get; private set; }

    /// <summary>The prompt, kept only when content logging is on.</summary>
    public string? Prompt { get; private set; }

    /// <summary>Starts the log of the current request, written when its response completes.</summary>
    public static RequestLog Start(HttpContext context, string operation)
    {
        var logContent = context.RequestServices.GetRequiredService<IOptions<LlmStackOptions>>().Value.LogContent;
        var log = new RequestLog(operation, logContent, context.Features.Get<UsageCharge>());
        context.Features.Set(log);
        var logger = context.RequestServices.GetRequiredService<ILogger<RequestLog>>();
        context.Response.OnCompleted(() =>
        {
            log.Write(logger, context);
            return Task.CompletedTask;
        });
        return log;
    }

    public void Received(IEnumerable<ChatMessage> messages)
    {
        if (_completion is not null)
        {
            Prompt = string.Join('\n', messages.Select(m => $"{m.Role}: {m.Text}"));
        }
    }

    /// <summary>A non-empty piece of the reply was sent: the first one fixes the time to first token.</summary>
    public void ContentArrived(string text)
    {
        _timeToFirstToken ??= Stopwatch.GetElapsedTime(_started);
        _completion?.Append(text);
    }

    /// <summary>The whole reply of a non-streamed request: there is no first token to time.</summary>
    public void Replied(string text) => _completion?.Append(text);

    public void Finished(string finishReason, UsageDetails? usage)
    {
        FinishReason = finishReason;
        PromptTokens = usage?.InputTokenCount;
        CompletionTokens = usage?.OutputTokenCount;
        // The calling key's token budget pays for the real usage, before the reply's last bytes go out.
        _usageCharge?.Charge(usage);
    }

    public void Failed(ApiErrorException error) => ErrorCode = error.Code ?? error.Type;

    public void ClientClosed() => _clientClosed = true;

    private void Write(ILogger logger, HttpContext context)
    {
        var status = _clientClosed || (context.RequestAborted.IsCancellationRequested && FinishReason is null)
            ? ClientClosedRequest
            : context.Response.StatusCode;
        var level = status >= StatusCodes.Status500InternalServerError ? LogLevel.Warning : LogLevel.Information;
        var durationMs = Stopwatch.GetElapsedTime(_started).TotalMilliseconds;
        var ttftMs = _timeToFirstToken?.TotalMilliseconds;
        // The name of the API key the request came with (never the secret); none on an open API.
        var apiKey = context.User.Identity is { IsAuthenticated: true, Name: { } name } ? name : null;
        if (_completion is null)
        {
            LogRequest(logger, level, _operation, context.TraceIdentifier, apiKey, Model, Stream, status, FinishReason, PromptTokens, CompletionTokens, ttftMs, durationMs, ErrorCode);
        }
        else
        {
            LogRequestWithContent(logger, level, _operation, context.TraceIdentifier, apiKey, Model, Stream, status, FinishReason, PromptTokens, CompletionTokens, ttftMs, durationMs, ErrorCode,
                Prompt, _completion.ToString());
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
