using LlmStack.Api.Errors;

namespace LlmStack.Api.Pipeline;

/// <summary>
/// A bound on how long a call to a model may wait for its answer (<c>FirstTokenTimeout</c>): the caller's token
/// plus a timer. <see cref="Token"/> cancels the backend call when either fires; <see cref="Expired"/> tells the
/// timer's cancellation (a 504) from the caller's (a hang-up).
/// </summary>
internal sealed class Deadline : IDisposable
{
    private readonly CancellationTokenSource _timer;
    private readonly CancellationToken _caller;
    private readonly string _model;
    private readonly TimeSpan _timeout;

    public Deadline(string model, TimeSpan timeout, CancellationToken caller)
    {
        (_model, _timeout, _caller) = (model, timeout, caller);
        _timer = CancellationTokenSource.CreateLinkedTokenSource(caller);
        _timer.CancelAfter(timeout);
    }

    /// <summary>Runs a call that is over once it returns (a whole reply, an embedding) within the deadline.</summary>
    public static async Task<T> BoundAsync<T>(string model, TimeSpan timeout, CancellationToken caller, Func<CancellationToken, Task<T>> call)
    {
        using var deadline = new Deadline(model, timeout, caller);
        try
        {
            return await call(deadline.Token);
        }
        catch (OperationCanceledException ex) when (deadline.Expired)
        {
            throw deadline.Exceeded(ex);
        }
    }

    /// <summary>Cancelled by the caller or when the time is up.</summary>
    public CancellationToken Token => _timer.Token;

    /// <summary>True when the time ran out (and the caller did not cancel first).</summary>
    public bool Expired => _timer.IsCancellationRequested && !_caller.IsCancellationRequested;

    /// <summary>The answer has started: from here the call runs for as long as it needs.</summary>
    public void Stop() => _timer.CancelAfter(Timeout.InfiniteTimeSpan);

    /// <summary>The 504 of an expired deadline.</summary>
    public ApiErrorException Exceeded(Exception? inner) =>
        ApiErrorException.BackendTimeout(_model, $"no token within {_timeout.TotalSeconds:0.###} s (FirstTokenTimeout).", inner);

    public void Dispose() => _timer.Dispose();
}
