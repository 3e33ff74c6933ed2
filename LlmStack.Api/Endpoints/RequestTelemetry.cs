using LlmStack.Api.Access;
using LlmStack.Api.Configuration;
using LlmStack.Api.Limits;
using LlmStack.Api.Pipeline;
using LlmStack.Api.Telemetry;
using Microsoft.Extensions.Options;

namespace LlmStack.Api.Endpoints;

/// <summary>
/// Starts each model request's <see cref="RequestOutcome"/> and, when its response has been completely sent
/// (or abandoned by the client), records it once: the server metrics and the request's log line, from the same figures.
/// A request refused before its endpoint runs (401, a key's 429, 503 while draining) is recorded the same way.
/// </summary>
internal sealed class RequestTelemetry(LlmStackMetrics metrics, ILoggerFactory loggerFactory, IOptions<LlmStackOptions> options)
{
    private readonly ILogger _logger = loggerFactory.CreateLogger(RequestLog.Category);

    /// <summary>Status logged for a request whose client went away first (nginx's convention).</summary>
    public const int ClientClosedRequest = 499;

    /// <summary>error.type of a request whose client went away before its reply ended.</summary>
    public const string Cancelled = "cancelled";

    /// <summary>The outcome of the current request, recorded when its response completes.</summary>
    public RequestOutcome Start(HttpContext context, string operation)
    {
        var outcome = new RequestOutcome(operation, options.Value.LogContent);
        context.Features.Set(outcome);
        context.Response.OnCompleted(() => RecordAsync(context, outcome));
        return outcome;
    }

    private async Task RecordAsync(HttpContext context, RequestOutcome outcome)
    {
        var duration = outcome.Elapsed;
        var clientClosed = context.RequestAborted.IsCancellationRequested && !outcome.ReplyEnded && outcome.Error is null;
        // Whatever the ending, the request is charged (and its log line and metrics carry) the tokens it used.
        await outcome.SettleAsync(interrupted: clientClosed || RequestCutoff.Of(context)?.Error is not null);
        var status = clientClosed ? ClientClosedRequest : context.Response.StatusCode;
        var errorType = outcome.Error is { } error ? error.Code ?? error.Type : clientClosed ? Cancelled : null;
        if (outcome.Model is not null)
        {
            RecordMetrics(outcome, duration, errorType);
        }
        else if (errorType is not null)
        {
            // Refused before a model was chosen: counted by error.type like every other refusal, with no provider.
            var tags = new System.Diagnostics.TagList
            {
                { LlmStackMetrics.RequestModel, LlmStackMetrics.NoModel },
                { LlmStackMetrics.OperationName, outcome.Operation },
                { LlmStackMetrics.ErrorType, errorType },
            };
            metrics.RequestDuration.Record(duration.TotalSeconds, tags);
        }
        var apiKey = ApiKeyDefaults.KeyNameOf(context.User);
        RequestLog.Write(_logger, context.TraceIdentifier, apiKey, outcome, status, duration, errorType);
    }

    /// <summary>Records a finished request from its outcome: duration, time to first token, time per output token, usage.</summary>
    private void RecordMetrics(RequestOutcome outcome, TimeSpan duration, string? errorType)
    {
        var tags = LlmStackMetrics.Tags(outcome.Model?.Id, outcome.Model?.Backend, outcome.Operation);
        if (errorType is not null)
        {
            tags.Add(LlmStackMetrics.ErrorType, errorType);
        }
        var durationTags = tags;
        if (outcome.FinishReason is { } finishReason)
        {
            durationTags.Add(LlmStackMetrics.FinishReason, finishReason);
        }
        metrics.RequestDuration.Record(duration.TotalSeconds, durationTags);
        if (outcome.TimeToFirstToken is { } timeToFirstToken)
        {
            metrics.TimeToFirstToken.Record(timeToFirstToken.TotalSeconds, tags);
        }
        if (outcome.TimePerOutputToken is { } timePerOutputToken)
        {
            metrics.TimePerOutputToken.Record(timePerOutputToken.TotalSeconds, tags);
        }
        if (outcome.Usage?.InputTokenCount is { } input)
        {
            var inputTags = tags;
            inputTags.Add(LlmStackMetrics.TokenType, "input");
            metrics.TokenUsage.Record((int)input, inputTags);
        }
        if (outcome.Usage?.OutputTokenCount is { } output)
        {
            var outputTags = tags;
            outputTags.Add(LlmStackMetrics.TokenType, "output");
            metrics.TokenUsage.Record((int)output, outputTags);
        }
    }
}

/// <summary>The <c>gen_ai.operation.name</c> of an endpoint that calls a model (<see cref="ModelCallMetadata.CallsModel"/>).</summary>
internal sealed record ModelOperation(string Name);
