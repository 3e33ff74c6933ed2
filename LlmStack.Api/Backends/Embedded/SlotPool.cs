using System.Diagnostics;
using LlmStack.Api.Telemetry;

namespace LlmStack.Api.Backends.Embedded;

/// <summary>
/// A bounded number of generation slots with a strict first-in-first-out queue behind them. A waiter whose
/// request is cancelled leaves the queue at once; a released slot goes straight to the oldest waiter.
/// Records <see cref="LlmStackMetrics.RequestsQueued"/> and <see cref="LlmStackMetrics.QueueTime"/>.
/// </summary>
internal sealed class SlotPool
{
    private readonly Lock _lock = new();
    private readonly LinkedList<TaskCompletionSource<Slot>> _waiters = new();
    private readonly LlmStackMetrics? _metrics;
    private readonly KeyValuePair<string, object?> _modelTag;
    private int _free;

    public SlotPool(int capacity, string model, LlmStackMetrics? metrics = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        Capacity = capacity;
        _free = capacity;
        _metrics = metrics;
        _modelTag = new(LlmStackMetrics.RequestModel, model);
    }

    public int Capacity { get; }

    /// <summary>Requests waiting for a slot now.</summary>
    public int Queued
    {
        get
        {
            lock (_lock)
            {
                return _waiters.Count;
            }
        }
    }

    /// <summary>Slots not held by a request now.</summary>
    public int Free
    {
        get
        {
            lock (_lock)
            {
                return _free;
            }
        }
    }

    /// <summary>Waits for a slot; dispose the returned slot to give it back.</summary>
    public async ValueTask<Slot> AcquireAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var started = Stopwatch.GetTimestamp();
        TaskCompletionSource<Slot> waiter;
        LinkedListNode<TaskCompletionSource<Slot>> node;
        lock (_lock)
        {
            if (_free > 0)
            {
                _free--;
                _metrics?.QueueTime.Record(0, _modelTag);
                return new Slot(this);
            }
            // Continuations run outside the releasing thread's lock.
            waiter = new TaskCompletionSource<Slot>(TaskCreationOptions.RunContinuationsAsynchronously);
            node = _waiters.AddLast(waiter);
        }
        _metrics?.RequestsQueued.Add(1, _modelTag);
        try
        {
            await using (cancellationToken.Register(() => Abandon(node)))
            {
                return await waiter.Task.ConfigureAwait(false);
            }
        }
        finally
        {
            _metrics?.RequestsQueued.Add(-1, _modelTag);
            _metrics?.QueueTime.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, _modelTag);
        }

        void Abandon(LinkedListNode<TaskCompletionSource<Slot>> abandoned)
        {
            lock (_lock)
            {
                // Already handed a slot: the completed task wins and the caller disposes it.
                if (abandoned.List is null)
                {
                    return;
                }
                _waiters.Remove(abandoned);
            }
            abandoned.Value.TrySetCanceled(cancellationToken);
        }
    }

    private void Release()
    {
        TaskCompletionSource<Slot>? next;
        lock (_lock)
        {
            if (_waiters.First is not { } first)
            {
                _free++;
                return;
            }
            _waiters.RemoveFirst();
            next = first.Value;
        }
        next.SetResult(new Slot(this));
    }

    /// <summary>A held generation slot; disposing it passes it to the next waiter.</summary>
    public sealed class Slot : IDisposable
    {
        private SlotPool? _pool;

        internal Slot(SlotPool pool) => _pool = pool;

        public void Dispose() => Interlocked.Exchange(ref _pool, null)?.Release();
    }
}
