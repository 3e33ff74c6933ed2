using LlmStack.Api.Configuration;
using LlmStack.Api.Errors;
using LlmStack.Api.Limits;
using Microsoft.Extensions.Options;

namespace LlmStack.Api.Endpoints;

/// <summary>
/// The event shapes of one streamed API (chat chunks, Responses events, text completion chunks). <see cref="SseResult"/>
/// owns the stream's protocol - the loop, releasing the model before the last events, how the stream ended - and asks
/// its events for the bytes of each step.
/// </summary>
internal interface IStreamEvents
{
    /// <summary>Events before the first update (Responses: <c>response.created</c>, <c>response.in_progress</c>).</summary>
    ValueTask StartAsync(ServerSentEvents sse, CancellationToken cancellationToken);

    /// <summary>The events of one update of the model's reply.</summary>
    ValueTask UpdateAsync(ServerSentEvents sse, Microsoft.Extensions.AI.ChatResponseUpdate update, CancellationToken cancellationToken);

    /// <summary>The reply ended normally and its model is released: finish reason, usage, the closing events.</summary>
    ValueTask CompletedAsync(ServerSentEvents sse, CancellationToken cancellationToken);

    /// <summary>The stream cannot go on (<paramref name="error"/>), and its client is still reading: the events that say so.</summary>
    ValueTask FailedAsync(ServerSentEvents sse, ApiErrorException error, CancellationToken cancellationToken);
}

/// <summary>
/// A streamed answer over server-sent events. Every stream of the API ends here in one of five ways, decided once:
/// <list type="bullet">
/// <item>completed - the events' closing events;</item>
/// <item>the client went away - nothing more is written (the model call is already cancelled);</item>
/// <item>the server cut it off (drain at shutdown, <c>LlmStack:MaxRequestDuration</c>) - the client is still
/// there: the error in the stream's own shape, recorded as the request's error;</item>
/// <item>its client stopped reading: one write waited <c>LlmStack:StreamWriteTimeout</c> - the request is cut off
/// likewise (its model call cancelled, its slot freed, its tokens charged), the error event goes out if the connection
/// still takes it, else the connection is closed;</item>
/// <item>it failed (the backend, a bug) - likewise, and a 5xx is logged with its exception.</item>
/// </list>
/// </summary>
/// <remarks>
/// The endpoint reads the first update before this result runs (<see cref="ModelCall.SendAsync"/>), so that a backend
/// that fails before producing anything still gets a real status code.
/// </remarks>
internal sealed partial class SseResult(ModelStream stream, IStreamEvents events) : IResult
{
    public async Task ExecuteAsync(HttpContext context)
    {
        await using var _ = stream;
        var writeTimeout = context.RequestServices.GetRequiredService<IOptions<LlmStackOptions>>().Value.StreamWriteTimeout;
        using var sse = ServerSentEvents.Start(context, writeTimeout);
        var cancellationToken = context.RequestAborted;
        var cutoff = RequestCutoff.Of(context);
        try
        {
            await events.StartAsync(sse, cancellationToken);
            for (var more = stream.HasFirst; more; more = await stream.MoveNextAsync())
            {
                await events.UpdateAsync(sse, stream.Current, cancellationToken);
            }
            // The reply is over: release the backend (a slot, a connection) before the last events go out.
            await stream.DisposeAsync();
            await events.CompletedAsync(sse, cancellationToken);
        }
        catch (Exception) when (cancellationToken.IsCancellationRequested && cutoff?.Error is null)
        {
            // The client went away: the model call is already cancelled and there is no one left to tell.
        }
        catch (Exception ex)
        {
            var logger = context.RequestServices.GetRequiredService<ILogger<SseResult>>();
            if (ex is StreamWriteTimeoutException)
            {
                // Cut off like a request past its time: everything it runs under stops, and the ending says why.
                cutoff?.Cut(RequestCutoff.StreamWriteTimedOut(writeTimeout));
                LogStalled(logger, stream.Outcome.Operation, context.TraceIdentifier, writeTimeout.TotalSeconds);
            }
            var cut = cutoff?.Error;
            var error = cut ?? OpenAIErrors.ToApiError(ex);
            stream.Outcome.Failed(error);
            if (cut is null && error.StatusCode >= StatusCodes.Status500InternalServerError)
            {
                logger.LogError(ex, "{Operation} request {RequestId} failed after its stream started", stream.Outcome.Operation, context.TraceIdentifier);
            }
            await stream.DisposeAsync();
            try
            {
                // The client is still reading: it is told, so that every client sees a finished stream.
                await events.FailedAsync(sse, error, CancellationToken.None);
            }
            catch (Exception writeFailure) when (ex is StreamWriteTimeoutException || writeFailure is StreamWriteTimeoutException)
            {
                // Its client reads nothing: the connection goes, rather than wait for it with the rest of the stream.
                context.Abort();
            }
        }
    }

    [LoggerMessage(EventId = 40, Level = LogLevel.Warning,
        Message = "{Operation} request {RequestId}: its client read nothing of the stream for {WriteTimeoutSeconds} s (LlmStack:StreamWriteTimeout); the request is cut off and its slot freed")]
    private static partial void LogStalled(ILogger logger, string operation, string requestId, double writeTimeoutSeconds);
}
