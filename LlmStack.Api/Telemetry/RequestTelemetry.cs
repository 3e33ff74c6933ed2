using LlmStack.Api.Access;
using LlmStack.Api.Backends;
using LlmStack.Api.Configuration;
using LlmStack.Api.Models;
using LlmStack.Api.Pipeline;
using Microsoft.Extensions.Options;

namespace LlmStack.Api.Telemetry;

/// <summary>
/// Starts each model request's <see cref="RequestOutcome"/> and, when its response has been completely sent
/// (or abandoned by the client), records it once: the server metrics and the request's log line, from the same figures.
/// </summary>
internal sealed class RequestTelemetry(LlmStackMetrics metrics, ILoggerFactory loggerFactory, IOptions<LlmStackOptions> options)
{
    private readonly ILogger _logger = loggerFactory.CreateLogger(typeof(RequestLog).FullName!);

    /// <summary>Status logged for a request whose client went away first (nginx's convention).</summary>
    public const int ClientClosedRequest = 499;

    /// <summary>error.type of a request whose client went away before its reply ended.</summary>
    public const string Cancelled = "cancelled";

    /// <summary>The outcome of the current request, recorded when its response completes.</summary>
    public RequestOutcome Start(HttpContext context, string operation)
    {
        var outcome = new RequestOutcome(operation, options.Value.LogContent, context.Features.Get<UsageCharge>(), metrics);
        context.Features.Set(outcome);
        context.Response.OnCompleted(() =>
        {
            Record(context, outcome);
            return Task.CompletedTask;
        });
        return outcome;
    }

    private void Record(HttpContext context, RequestOutcome outcome)
    {
        var duration = outcome.Elapsed;
        var clientClosed = context.RequestAborted.IsCancellationRequested && !outcome.ReplyEnded && outcome.Error is null;
        var status = clientClosed ? ClientClosedRequest : context.Response.StatusCode;
        var errorType = outcome.Error is { } error ? error.Code ?? error.Type : clientClosed ? Cancelled : null;
        if (outcome.Model is not null)
        {
            metrics.Record(outcome, duration, errorType);
        }
        var apiKey = context.User.Identity is { IsAuthenticated: true, Name: { } name } ? name : null;
        RequestLog.Write(_logger, context.TraceIdentifier, apiKey, outcome, status, duration, errorType);
    }
}
