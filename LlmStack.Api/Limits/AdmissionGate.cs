using System.Diagnostics;
using System.Threading.RateLimiting;
using LlmStack.Api.Errors;
using LlmStack.Api.Telemetry;

namespace LlmStack.Api.Limits;

/// <summary>
/// Admission to one model: at most <see cref="Capacity"/> requests at once, at most <see cref="MaxQueue"/>
/// waiting behind them in arrival order, each for at most <see cref="QueueTimeout"/>. Beyond either bound a
/// request is refused at once with 503 "the model is overloaded" and a <c>Retry-After</c> - a burst never turns
/// into an unbounded wait. It sits above every backend, so an embedded engine, an Ollama server and an
/// OpenAI-compatible upstream are bounded the same way (for upstreams: no pile of open sockets).
/// Records <c>llmstack.requests.queued</c>, <c>llmstack.request.queue_time</c> and rejections.
/// </summary>
internal sealed class AdmissionGate : IDisposable
{
    private readonly ConcurrencyLimiter _limiter;
    private readonly LlmStackMetrics _metrics;
    private readonly TagList _tags;
    private long _heldTicksAverage;

    public AdmissionGate(string model, int capacity, int maxQueue, TimeSpan queueTimeout, LlmStackMetrics metrics)
    {
        Model = model;
        Capacity = capacity;
        MaxQueue = maxQueue;
        QueueTimeout = queueTimeout;
        _metrics = metrics;
        _tags = new TagList { { LlmStackMetrics.RequestModel, model } };
        _limiter = new ConcurrencyLimiter(new ConcurrencyLimiterOptions
        {
            PermitLimit = capacity,
            QueueLimit = maxQueue,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        });
        // Present at 0 from the start: a dashboard or an alert must not see "no data" before the first queue.
        metrics.RequestsQueued.Add(0, _tags);
    }

    public string Model { get; }

    public int Capacity { get; }

    public int MaxQueue { get; }

    public TimeSpan QueueTimeout { get; }

    /// <summary>Requests admitted now.</summary>
    public int Admitted => Capacity - (int)(_limiter.GetStatistics()?.CurrentAvailablePermits ?? Capacity);

    /// <summary>Requests waiting now.</summary>
    public int Queued => (int)(_limiter.GetStatistics()?.CurrentQueuedCount ?? 0);

    /// <summary>Waits for admission; dispose the returned lease when the request has finished with the model.</summary>
    /// <param name="places">The places the request takes (its choices, which run at once); at most <see cref="Capacity"/>.</param>
    /// <exception cref="ApiErrorException">503 when the queue is full or the wait exceeds <see cref="QueueTimeout"/>.</exception>
    public async ValueTask<IDisposable> EnterAsync(CancellationToken cancellationToken, int places = 1)
    {
        var lease = _limiter.AttemptAcquire(places);
        if (lease.IsAcquired)
        {
            _metrics.QueueTime.Record(0, _tags);
            return new Admission(this, lease);
        }
        lease.Dispose();

        var started = Stopwatch.GetTimestamp();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(QueueTimeout);
        _metrics.RequestsQueued.Add(1, _tags);
        try
        {
            lease = await _limiter.AcquireAsync(places, timeout.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            _metrics.Rejected(RejectionReason.QueueTimeout, Model);
            throw Overloaded($"no request slot freed within {QueueTimeout.TotalSeconds:0.###} s (QueueTimeout).");
        }
        finally
        {
            _metrics.RequestsQueued.Add(-1, _tags);
        }

        if (!lease.IsAcquired)
        {
            lease.Dispose();
            _metrics.Rejected(RejectionReason.QueueFull, Model);
            throw Overloaded($"{MaxQueue} requests are already waiting for it (MaxQueue).");
        }
        _metrics.QueueTime.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, _tags);
        return new Admission(this, lease);
    }

    public void Dispose() => _limiter.Dispose();

    private ApiErrorException Overloaded(string why) => ApiErrorException.ModelOverloaded(Model, why, RetryAfter());

    /// <summary>
    /// How long until a slot is likely free for a retry: the time a request usually holds a slot, times the
    /// requests ahead of it per slot; between 1 s and 60 s.
    /// </summary>
    private TimeSpan RetryAfter()
    {
        var held = TimeSpan.FromTicks(Interlocked.Read(ref _heldTicksAverage));
        var estimate = held * ((Queued + 1.0) / Capacity);
        return TimeSpan.FromSeconds(Math.Clamp(Math.Ceiling(estimate.TotalSeconds), 1, 60));
    }

    private void Released(TimeSpan held)
    {
        // An exponential moving average (1/8 weight) of how long admitted requests hold their slot.
        long current, next;
        do
        {
            current = Interlocked.Read(ref _heldTicksAverage);
            next = current == 0 ? held.Ticks : current + ((held.Ticks - current) / 8);
        }
        while (Interlocked.CompareExchange(ref _heldTicksAverage, next, current) != current);
    }

    private sealed class Admission(AdmissionGate gate, RateLimitLease lease) : IDisposable
    {
        private readonly long _admitted = Stopwatch.GetTimestamp();
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                gate.Released(Stopwatch.GetElapsedTime(_admitted));
                lease.Dispose();
            }
        }
    }
}
