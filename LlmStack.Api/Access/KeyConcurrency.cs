using System.Diagnostics;
using LlmStack.Api.Errors;
using LlmStack.Api.Telemetry;

namespace LlmStack.Api.Access;

/// <summary>
/// One key's requests in flight, at most <c>LlmStack:Auth:Keys:&lt;n&gt;:MaxConcurrentRequests</c> (in this process). A
/// request holds its place until it has really ended - a stream until its last event, a request whose client hung up
/// until its model call has stopped - so hanging up early never frees a place while the work goes on.
/// </summary>
internal sealed class KeyConcurrency(int index, int? limit)
{
    private readonly HoldTime _held = new();
    private int _inFlight;

    public int? Limit => limit;

    public bool IsLimited => limit is not null;

    /// <summary>Requests of the key in flight now.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>A place for one request, to dispose when the request has ended; null when the key has none left.</summary>
    public IDisposable? TryEnter()
    {
        if (Interlocked.Increment(ref _inFlight) > (limit ?? int.MaxValue))
        {
            Interlocked.Decrement(ref _inFlight);
            return null;
        }
        return new Place(this);
    }

    /// <summary>The 429 <c>rate_limit_exceeded</c> of a request that found no place.</summary>
    public ApiErrorException Refusal(string keyName)
    {
        // One of its own requests has to end first: the usual time one of them takes.
        var retryAfter = _held.RetryAfter(1);
        return new ApiErrorException(StatusCodes.Status429TooManyRequests, "requests",
            $"Too many concurrent requests for API key '{keyName}': at most {limit} at once " +
            $"(LlmStack:Auth:Keys:{index}:MaxConcurrentRequests). Please try again in {UsageCharge.Duration(retryAfter)}, or when one of them has ended.",
            "rate_limit_exceeded")
        {
            RetryAfter = retryAfter,
        };
    }

    private sealed class Place(KeyConcurrency owner) : IDisposable
    {
        private readonly long _entered = Stopwatch.GetTimestamp();
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                owner._held.Record(Stopwatch.GetElapsedTime(_entered));
                Interlocked.Decrement(ref owner._inFlight);
            }
        }
    }
}
