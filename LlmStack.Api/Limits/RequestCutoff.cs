using LlmStack.Api.Errors;

namespace LlmStack.Api.Limits;

/// <summary>
/// The one token a request's work runs under (it replaces <see cref="HttpContext.RequestAborted"/>): the client
/// hanging up, the request outliving <c>LlmStack:MaxRequestDuration</c>, or the server's drain ending while it
/// still runs. <see cref="Error"/> tells the last two apart from the first: then the client is still there, and
/// a stream owes it an error event and <c>[DONE]</c> rather than silence.
/// </summary>
internal sealed class RequestCutoff : IDisposable
{
    private readonly CancellationTokenSource _cutoff;
    private readonly CancellationToken _clientAborted;
    private readonly CancellationToken _drainEnded;
    private readonly TimeSpan _maxDuration;

    public RequestCutoff(CancellationToken clientAborted, CancellationToken drainEnded, TimeSpan maxDuration)
    {
        (_clientAborted, _drainEnded, _maxDuration) = (clientAborted, drainEnded, maxDuration);
        _cutoff = CancellationTokenSource.CreateLinkedTokenSource(clientAborted, drainEnded);
        _cutoff.CancelAfter(maxDuration);
    }

    public CancellationToken Token => _cutoff.Token;

    /// <summary>Null while the request runs, or when the client ended it; otherwise what to tell the client.</summary>
    public ApiErrorException? Error =>
        !_cutoff.IsCancellationRequested || _clientAborted.IsCancellationRequested ? null
        : _drainEnded.IsCancellationRequested ? ShuttingDown()
        : new ApiErrorException(StatusCodes.Status504GatewayTimeout, "server_error",
            $"The request ran longer than this server allows ({_maxDuration.TotalSeconds:0.###} s, LlmStack:MaxRequestDuration).", "request_timeout");

    public void Dispose() => _cutoff.Dispose();

    /// <summary>The cutoff of <paramref name="context"/>'s request, when the request-limits middleware set one.</summary>
    public static RequestCutoff? Of(HttpContext context) => context.Features.Get<RequestCutoff>();

    internal static ApiErrorException ShuttingDown() =>
        new(StatusCodes.Status503ServiceUnavailable, "server_error",
            "The server is shutting down; retry the request (another instance may take it).", "server_shutting_down")
        {
            RetryAfter = TimeSpan.FromSeconds(1),
        };
}
