using System.Diagnostics;
using LlmStack.Api.Errors;
using LlmStack.Api.Telemetry;

namespace LlmStack.Api.Limits;

/// <summary>
/// Admission to one model: at most <see cref="Capacity"/> requests at once, at most <see cref="MaxQueue"/> waiting
/// behind them, each for at most <see cref="QueueTimeout"/>. Beyond either bound a request is refused at once with 503
/// "the model is overloaded" and a <c>Retry-After</c> - a burst never turns into an unbounded wait. It sits above every
/// backend, so an embedded engine, an Ollama server and an OpenAI-compatible upstream are bounded the same way (for
/// upstreams: no pile of open sockets). Records <c>llmstack.requests.queued</c>, <c>llmstack.request.queue_time</c> and
/// rejections.
/// </summary>
/// <remarks>
/// The queue is fair between API keys: a freed slot goes to the waiting key that holds the fewest of this model's slots
/// (ties: the key served longest ago), and within a key to its oldest request. So a key with a backlog, or with every
/// slot held by its slow streams, never delays another key's first request behind its own: that one takes the next
/// slot that frees. Without keys every request is one tenant's: first come, first served.
/// </remarks>
internal sealed class AdmissionGate
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Tenant> _tenants = new(StringComparer.Ordinal);
    private readonly HoldTime _held = new();
    private readonly LlmStackMetrics _metrics;
    private readonly TagList _tags;
    private int _admitted;
    private int _queued;
    private long _turns;

    public AdmissionGate(string model, int capacity, int maxQueue, TimeSpan queueTimeout, LlmStackMetrics metrics)
    {
        Model = model;
        Capacity = capacity;
        MaxQueue = maxQueue;
        QueueTimeout = queueTimeout;
        _metrics = metrics;
        _tags = new TagList { { LlmStackMetrics.RequestModel, model } };
        // Present at 0 from the start: a dashboard or an alert must not see "no data" before the first queue.
        metrics.RequestsQueued.Add(0, _tags);
    }

    public string Model { get; }

    public int Capacity { get; }

    public int MaxQueue { get; }

    public TimeSpan QueueTimeout { get; }

    /// <summary>Requests admitted now.</summary>
    public int Admitted
    {
        get
        {
            lock (_lock)
            {
                return _admitted;
            }
        }
    }

    /// <summary>Requests waiting now.</summary>
    public int Queued
    {
        get
        {
            lock (_lock)
            {
                return _queued;
            }
        }
    }

    /// <summary>Waits for admission; dispose the returned lease when the request has finished with the model.</summary>
    /// <param name="tenant">Whose request it is (the API key's name; null without keys): the queue takes tenants in turn.</param>
    /// <exception cref="ApiErrorException">503 when the queue is full or the wait exceeds <see cref="QueueTimeout"/>.</exception>
    public async ValueTask<IDisposable> EnterAsync(string? tenant, CancellationToken cancellationToken)
    {
        Waiter? waiter = null;
        lock (_lock)
        {
            var owner = TenantOf(tenant ?? "");
            if (_queued == 0 && _admitted < Capacity)
            {
                _metrics.QueueTime.Record(0, _tags);
                return AdmitLocked(owner);
            }
            if (_queued < MaxQueue)
            {
                waiter = new Waiter(this, owner);
                owner.Waiting.AddLast(waiter.Node);
                _queued++;
            }
            else
            {
                ForgetIfIdleLocked(owner);
            }
        }
        if (waiter is null)
        {
            _metrics.Rejected(RejectionReason.QueueFull, Model);
            throw Overloaded($"{MaxQueue} requests are already waiting for it (MaxQueue).");
        }

        var started = Stopwatch.GetTimestamp();
        _metrics.RequestsQueued.Add(1, _tags);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(QueueTimeout);
            using (timeout.Token.Register(static state => ((Waiter)state!).Leave(), waiter))
            {
                var admission = await waiter.Admitted.Task.ConfigureAwait(false);
                if (admission is not null)
                {
                    _metrics.QueueTime.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, _tags);
                    return admission;
                }
            }
            cancellationToken.ThrowIfCancellationRequested();
            _metrics.Rejected(RejectionReason.QueueTimeout, Model);
            throw Overloaded($"no request slot freed within {QueueTimeout.TotalSeconds:0.###} s (QueueTimeout).");
        }
        finally
        {
            _metrics.RequestsQueued.Add(-1, _tags);
        }
    }

    private ApiErrorException Overloaded(string why) =>
        // The time a request usually holds a slot, times the requests ahead of this one per slot.
        ApiErrorException.ModelOverloaded(Model, why, _held.RetryAfter((Queued + 1.0) / Capacity));

    private Tenant TenantOf(string name)
    {
        if (!_tenants.TryGetValue(name, out var tenant))
        {
            _tenants[name] = tenant = new Tenant(name);
        }
        return tenant;
    }

    private Admission AdmitLocked(Tenant tenant)
    {
        _admitted++;
        tenant.Held++;
        tenant.LastTurn = ++_turns;
        return new Admission(this, tenant);
    }

    // A tenant with nothing held and nothing waiting is forgotten: a key that comes back is one served longest ago.
    private void ForgetIfIdleLocked(Tenant tenant)
    {
        if (tenant.Held == 0 && tenant.Waiting.Count == 0)
        {
            _tenants.Remove(tenant.Name);
        }
    }

    /// <summary>A waiter's wait ended (its client left, or the queue timeout): it gives up its place, unless it was admitted.</summary>
    private void Leave(Waiter waiter)
    {
        lock (_lock)
        {
            if (waiter.Node.List is null)
            {
                return; // Admitted already: the admission stands, and its holder releases it.
            }
            waiter.Tenant.Waiting.Remove(waiter.Node);
            _queued--;
            ForgetIfIdleLocked(waiter.Tenant);
        }
        waiter.Admitted.TrySetResult(null);
    }

    /// <summary>A slot is free: it goes straight to the next waiter, the oldest of the tenant whose turn it is.</summary>
    private void Release(Tenant tenant, TimeSpan held)
    {
        _held.Record(held);
        Waiter? next = null;
        Admission? admission = null;
        lock (_lock)
        {
            _admitted--;
            tenant.Held--;
            Tenant? turn = null;
            foreach (var candidate in _tenants.Values)
            {
                if (candidate.Waiting.Count > 0 && (turn is null || candidate.Held < turn.Held
                    || (candidate.Held == turn.Held && candidate.LastTurn < turn.LastTurn)))
                {
                    turn = candidate;
                }
            }
            if (turn is not null)
            {
                next = turn.Waiting.First!.Value;
                turn.Waiting.RemoveFirst();
                _queued--;
                admission = AdmitLocked(turn);
            }
            ForgetIfIdleLocked(tenant);
        }
        next?.Admitted.TrySetResult(admission);
    }

    /// <summary>One tenant's share of the model: the slots it holds, its waiting requests oldest first, its last turn.</summary>
    private sealed class Tenant(string name)
    {
        public string Name => name;

        public int Held { get; set; }

        public long LastTurn { get; set; }

        public LinkedList<Waiter> Waiting { get; } = new();
    }

    private sealed class Waiter
    {
        private readonly AdmissionGate _gate;

        public Waiter(AdmissionGate gate, Tenant tenant)
        {
            (_gate, Tenant) = (gate, tenant);
            Node = new LinkedListNode<Waiter>(this);
        }

        public Tenant Tenant { get; }

        public LinkedListNode<Waiter> Node { get; }

        /// <summary>Its admission, or null when it left the queue without one.</summary>
        public TaskCompletionSource<Admission?> Admitted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Leave() => _gate.Leave(this);
    }

    private sealed class Admission(AdmissionGate gate, Tenant tenant) : IDisposable
    {
        private readonly long _admitted = Stopwatch.GetTimestamp();
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                gate.Release(tenant, Stopwatch.GetElapsedTime(_admitted));
            }
        }
    }
}
