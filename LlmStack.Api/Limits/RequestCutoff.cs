using LlmStack.Api.Errors;

namespace LlmStack.Api.Limits;

/// <summary>
/// The one token a request's work runs under (it replaces <see cref="HttpContext.RequestAborted"/>): the client
/// hanging up, the request outliving <c>LlmStack:MaxRequestDuration</c>, the server's drain ending while it
/// still runs, or the request cut for a reason of its own (<see cref="Cut"/>: a stream its client stopped reading).
/// <see cref="Error"/> tells the others apart from the first: then the client is still there, and a stream owes it
/// an error event and <c>[DONE]</c> rather than silence.
/// </summary>
internal sealed class RequestCutoff : IDisposable
{
    private readonly CancellationTokenSource _cutoff;
    private readonly CancellationToken _clientAborted;
    private readonly CancellationToken _drainEnded;
    private readonly TimeSpan _maxDuration;
    private ApiErrorException? _reason;

    public RequestCutoff(CancellationToken clientAborted, CancellationToken drainEnded, TimeSpan maxDuration)
    {
        (_clientAborted, _drainEnded, _maxDuration) = (clientAborted, drainEnded, maxDuration);
        _cutoff = CancellationTokenSource.CreateLinkedTokenSource(clientAborted, drainEnded);
        _cutoff.CancelAfter(maxDuration);
    }

    public CancellationToken Token => _cutoff.Token;

    /// <summary>Null while the request runs, or when the client ended it; otherwise what to tell the client.</summary>
    public ApiErrorException? Error =>
        !_cutoff.IsCancellationRequested ? null
        : Volatile.Read(ref _reason) is { } reason ? reason
        : _clientAborted.IsCancellationRequested ? null
        : _drainEnded.IsCancellationRequested ? ShuttingDown()
        : new ApiErrorException(StatusCodes.Status504GatewayTimeout, "server_error",
            $"The request ran longer than this server allows ({_maxDuration.TotalSeconds:0.###} s, LlmStack:MaxRequestDuration).", "request_timeout");

    /// <summary>Ends the request's work now, for <paramref name="reason"/> (what <see cref="Error"/> then says); the first reason stays.</summary>
    public void Cut(ApiErrorException reason)
    {
        Interlocked.CompareExchange(ref _reason, reason, null);
        _cutoff.Cancel();
    }

    public void Dispose() => _cutoff.Dispose();

    /// <summary>The cutoff of <paramref name="context"/>'s request, when the request-limits middleware set one.</summary>
    public static RequestCutoff? Of(HttpContext context) => context.Features.Get<RequestCutoff>();

    /// <summary>The error code of a request refused or cut off by the drain at shutdown.</summary>
    public const string ShuttingDownCode = "server_shutting_down";

    /// <summary>The error of a stream whose client read none of it for <paramref name="writeTimeout"/> (<c>LlmStack:StreamWriteTimeout</c>).</summary>
    internal static ApiErrorException StreamWriteTimedOut(TimeSpan writeTimeout) =>
        new(StatusCodes.Status408RequestTimeout, "invalid_request_error",
            $"The client read nothing of the stream for {writeTimeout.TotalSeconds:0.###} s (LlmStack:StreamWriteTimeout); the request was ended to free its slot.",
            StreamWriteTimeoutCode);

    /// <summary>The error code of a stream ended because its client stopped reading.</summary>
    public const string StreamWriteTimeoutCode = "stream_write_timeout";

    internal static ApiErrorException ShuttingDown() =>
        new(StatusCodes.Status503ServiceUnavailable, "server_error",
            "The server is shutting down; retry the request (another instance may take it).", ShuttingDownCode)
        {
            RetryAfter = TimeSpan.FromSeconds(1),
        };
}
