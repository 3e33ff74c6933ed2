using System.Diagnostics;
using LlmStack.Api.Configuration;
using LlmStack.Api.Errors;
using LlmStack.Api.Telemetry;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace LlmStack.Api.Pipeline;

/// <summary>
/// The replicas of one model and the rules that pick one per request, once for every endpoint (they sit under the
/// model's admission gate, so every chat, response, completion and embedding passes here):
/// <list type="bullet">
/// <item>choice - among the replicas in rotation, those under their limit first, then the lowest <c>Priority</c>, then the
/// fewest requests in flight per unit of <c>Weight</c> (ties in turn); a continuation goes to the replica that served
/// its conversation while that one is available and of the priority that would be chosen anyway;</item>
/// <item>failover - a call that fails before its first token moves to another replica: a 429 or 503 (the replica is busy
/// or down; nothing ran) to the next as often as there are replicas, any other backend failure (502, 504) once;</item>
/// <item>ejection - <c>FailuresToEject</c> failures in a row (connection refused or reset, 5xx, timeouts) take a replica
/// out of rotation; its backend's readiness probe brings it back, first after <c>EjectionTime</c>, then at doubling
/// intervals up to <c>MaxEjectionTime</c>.</item>
/// </list>
/// When no replica is left, the request gets 503 backend_unavailable with <c>Retry-After</c> (the next probe).
/// </summary>
internal sealed partial class ReplicaSet : IAsyncDisposable
{
    private readonly Replica[] _replicas;
    private readonly RoutingOptions _routing;
    private readonly LlmStackMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Task> _probes = [];
    private readonly Func<IEnumerable<(TagList Tags, bool InRotation)>> _observeInRotation;
    private int _rotation = -1;

    public ReplicaSet(string model, IReadOnlyList<Replica> replicas, RoutingOptions routing, LlmStackMetrics metrics, TimeProvider time, ILogger logger)
    {
        Model = model;
        _replicas = [.. replicas];
        _routing = routing;
        _metrics = metrics;
        _time = time;
        _logger = logger;
        Affinity = routing.Affinity ? new ConversationAffinity() : null;
        foreach (var replica in _replicas)
        {
            // Present at 0 from the start, like every other instrument.
            metrics.ReplicaActive.Add(0, replica.Tags);
            metrics.ReplicaEjections.Add(0, replica.Tags);
        }
        _observeInRotation = () => _replicas.Select(r => (r.Tags, r.InRotation));
        metrics.ObserveReplicas(_observeInRotation);
    }

    public string Model { get; }

    public LlmStackMetrics Metrics => _metrics;

    public IReadOnlyList<Replica> Replicas => _replicas;

    /// <summary>Null when <c>Routing:Affinity</c> is off.</summary>
    public ConversationAffinity? Affinity { get; }

    /// <summary>The replica for the next attempt of a request, or null when none is left to try.</summary>
    /// <param name="preferred">The replica that served the conversation, if any.</param>
    /// <param name="tried">Replicas already tried for this request, one bit each.</param>
    public Replica? Choose(int? preferred, ulong tried)
    {
        Replica? best = null;
        var bestScore = 0.0;
        // Ties go round (as nginx's least_conn does): each choice starts its scan one replica further on and keeps the
        // first of the equally good, so idle replicas take turns - requests one at a time spread evenly, and so do new
        // conversations, each replica's cache holding its share - instead of one replica taking most of them by chance.
        var start = (int)((uint)Interlocked.Increment(ref _rotation) % (uint)_replicas.Length);
        for (var k = 0; k < _replicas.Length; k++)
        {
            var replica = _replicas[start + k < _replicas.Length ? start + k : start + k - _replicas.Length];
            if ((tried & (1UL << replica.Index)) != 0 || !replica.InRotation)
            {
                continue;
            }
            var score = (replica.InFlight + 1.0) / replica.Weight;
            if (best is null || Compare(replica, score, best, bestScore) < 0)
            {
                (best, bestScore) = (replica, score);
            }
        }
        if (preferred is { } index && index < _replicas.Length && _replicas[index] is var affine
            && (tried & (1UL << index)) == 0 && affine.Available && best is not null && affine.Priority <= best.Priority)
        {
            return affine;
        }
        return best;
    }

    private static int Compare(Replica replica, double score, Replica best, double bestScore)
    {
        var (available, bestAvailable) = (replica.InFlight < replica.Limit, best.InFlight < best.Limit);
        if (available != bestAvailable)
        {
            return available ? -1 : 1;
        }
        return replica.Priority != best.Priority ? replica.Priority.CompareTo(best.Priority) : score.CompareTo(bestScore);
    }

    /// <summary>
    /// A call on <paramref name="replica"/> failed before anything reached the client: records it, and says whether the
    /// request may move on to another replica.
    /// </summary>
    public bool TryAnother(Replica replica, Exception exception, RouteAttempts attempts, CancellationToken cancellationToken)
    {
        var failure = Classify(exception, cancellationToken);
        Record(replica, exception, failure);
        if (failure == Failure.None)
        {
            return false;
        }
        attempts.Last = (ApiErrorException)exception;
        if (failure == Failure.Failed)
        {
            if (attempts.Retried)
            {
                return false;
            }
            attempts.Retried = true;
        }
        return true;
    }

    /// <summary>A call failed after its first token had reached the client: recorded (it counts towards ejection), never retried.</summary>
    public void FailedMidStream(Replica replica, Exception exception, CancellationToken cancellationToken) =>
        Record(replica, exception, cancellationToken.IsCancellationRequested ? Failure.None : Failure.Failed);

    /// <summary>The replica answered (its first token, or its whole reply).</summary>
    public void Succeeded(Replica.Call call, bool firstToken)
    {
        var replica = call.Replica;
        if (firstToken)
        {
            _metrics.ReplicaTimeToFirstToken.Record(call.Elapsed.TotalSeconds, replica.Tags);
        }
        if (Volatile.Read(ref replica.ConsecutiveFailures) != 0 || Volatile.Read(ref replica.Ejections) != 0)
        {
            lock (replica)
            {
                replica.ConsecutiveFailures = 0;
                if (!replica.Ejected)
                {
                    replica.Ejections = 0;
                }
            }
        }
    }

    /// <summary>What a request that found no replica to try is told: the last replica's own error, or 503 with Retry-After.</summary>
    public ApiErrorException NoneLeft(RouteAttempts attempts)
    {
        if (attempts.Last is { StatusCode: not StatusCodes.Status503ServiceUnavailable } last)
        {
            return last;
        }
        var now = _time.GetTimestamp();
        var states = _replicas.Select(r => r.Ejected
            ? $"{r.Address} is out of rotation after {_routing.FailuresToEject} failures in a row ({r.LastFailure}; next probe in {Math.Max(0, _time.GetElapsedTime(now, Volatile.Read(ref r.NextProbe)).TotalSeconds):0.#} s)"
            : $"{r.Address}: {attempts.FailureOf(r.Index) ?? "not tried"}");
        return new ApiErrorException(StatusCodes.Status503ServiceUnavailable, "server_error",
            $"No replica of model '{Model}' can take the request: {string.Join("; ", states)}.", "backend_unavailable", innerException: attempts.Last)
        {
            RetryAfter = RetryAfter(now, attempts.Last?.RetryAfter),
        };
    }

    private TimeSpan RetryAfter(long now, TimeSpan? upstream)
    {
        var nextProbe = _replicas.Where(r => r.Ejected).Select(r => _time.GetElapsedTime(now, Volatile.Read(ref r.NextProbe))).DefaultIfEmpty(upstream ?? TimeSpan.FromSeconds(1)).Min();
        return TimeSpan.FromSeconds(Math.Clamp(Math.Ceiling(nextProbe.TotalSeconds), 1, 60));
    }

    private void Record(Replica replica, Exception exception, Failure failure)
    {
        if (failure == Failure.None && exception is OperationCanceledException)
        {
            return;
        }
        var error = exception is ApiErrorException api ? api.Code ?? api.Type : exception.GetType().Name;
        var tags = replica.Tags;
        tags.Add(LlmStackMetrics.ErrorType, error);
        _metrics.ReplicaErrors.Add(1, tags);
        if (failure is not (Failure.Unavailable or Failure.Failed))
        {
            return;
        }
        TimeSpan? ejectedFor = null;
        lock (replica)
        {
            replica.LastFailure = exception.Message;
            if (++replica.ConsecutiveFailures >= _routing.FailuresToEject && !replica.Ejected)
            {
                replica.Ejected = true;
                var backoff = Backoff(replica.Ejections++);
                replica.NextProbe = _time.GetTimestamp() + (long)(backoff.TotalSeconds * _time.TimestampFrequency);
                ejectedFor = backoff;
            }
        }
        if (ejectedFor is { } wait)
        {
            _metrics.ReplicaEjections.Add(1, replica.Tags);
            LogEjected(_logger, replica.Address, Model, _routing.FailuresToEject, wait.TotalSeconds, exception.Message);
            lock (_probes)
            {
                _probes.RemoveAll(p => p.IsCompleted);
                _probes.Add(ProbeUntilBackAsync(replica, wait));
            }
        }
    }

    private TimeSpan Backoff(int ejections)
    {
        var factor = Math.Pow(2, Math.Min(ejections, 30));
        var backoff = _routing.EjectionTime * factor;
        return backoff < _routing.MaxEjectionTime ? backoff : _routing.MaxEjectionTime;
    }

    // The way back into rotation: the backend's readiness check after each wait, the wait doubling while it fails.
    private async Task ProbeUntilBackAsync(Replica replica, TimeSpan wait)
    {
        var token = _stopping.Token;
        try
        {
            while (true)
            {
                await Task.Delay(wait, _time, token);
                var result = await ProbeAsync(replica, token);
                if (result.Status == HealthStatus.Healthy)
                {
                    lock (replica)
                    {
                        replica.ConsecutiveFailures = 0;
                        replica.Ejected = false;
                    }
                    LogBack(_logger, replica.Address, Model);
                    return;
                }
                wait = wait * 2 < _routing.MaxEjectionTime ? wait * 2 : _routing.MaxEjectionTime;
                lock (replica)
                {
                    replica.LastFailure = result.Description;
                    replica.NextProbe = _time.GetTimestamp() + (long)(wait.TotalSeconds * _time.TimestampFrequency);
                }
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // The API is stopping.
        }
    }

    private static async Task<HealthCheckResult> ProbeAsync(Replica replica, CancellationToken cancellationToken)
    {
        try
        {
            return await replica.Model.CheckReadyAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return HealthCheckResult.Unhealthy(ex.Message, ex);
        }
    }

    /// <summary>
    /// The model's readiness: every replica's backend probed, with whether the router has it in rotation. Healthy when all
    /// are ready, degraded (still ready) while at least one is, unhealthy when none is.
    /// </summary>
    public async Task<HealthCheckResult> CheckReadyAsync(CancellationToken cancellationToken)
    {
        var results = await Task.WhenAll(_replicas.Select(r => ProbeAsync(r, cancellationToken)));
        var data = new Dictionary<string, object>(StringComparer.Ordinal);
        var ready = 0;
        for (var i = 0; i < _replicas.Length; i++)
        {
            var (replica, result) = (_replicas[i], results[i]);
            var rotation = replica.Ejected ? $"out of rotation ({replica.LastFailure})" : $"in rotation, {replica.InFlight} in flight";
            data[$"replica {replica.Index} ({replica.Address})"] =
                $"{replica.Model.Backend}: {result.Status}{(result.Description is { } d ? " - " + d : "")}; {rotation}";
            if (result.Status == HealthStatus.Healthy && !replica.Ejected)
            {
                ready++;
            }
        }
        var summary = $"{ready} of {_replicas.Length} replicas ready";
        return ready == _replicas.Length ? HealthCheckResult.Healthy(summary, data)
            : ready > 0 ? HealthCheckResult.Degraded(summary, data: data)
            : HealthCheckResult.Unhealthy(summary, data: data);
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        Task[] probes;
        lock (_probes)
        {
            probes = [.. _probes];
        }
        await Task.WhenAll(probes);
        _metrics.StopObservingReplicas(_observeInRotation);
        foreach (var replica in _replicas)
        {
            await replica.Model.DisposeAsync();
        }
        _stopping.Dispose();
    }

    private static Failure Classify(Exception exception, CancellationToken cancellationToken) => exception switch
    {
        _ when cancellationToken.IsCancellationRequested => Failure.None,
        ApiErrorException { StatusCode: StatusCodes.Status429TooManyRequests } => Failure.Busy,
        ApiErrorException { StatusCode: StatusCodes.Status503ServiceUnavailable } => Failure.Unavailable,
        ApiErrorException { StatusCode: StatusCodes.Status502BadGateway or StatusCodes.Status504GatewayTimeout } => Failure.Failed,
        _ => Failure.None,
    };

    /// <summary>What a failed call says about its replica.</summary>
    private enum Failure
    {
        /// <summary>The request's own fault, the caller's cancellation or a bug: passed on as it is.</summary>
        None,

        /// <summary>429: the replica is busy; the next one is tried, its health untouched.</summary>
        Busy,

        /// <summary>503 (refused connection, the server's own 503): the next one is tried; counts towards ejection.</summary>
        Unavailable,

        /// <summary>502, 504: tried once more elsewhere; counts towards ejection.</summary>
        Failed,
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Replica {Address} of model {Model} is out of rotation after {Failures} failures in a row; first probe in {Seconds} s. Last failure: {Reason}")]
    private static partial void LogEjected(ILogger logger, string address, string model, int failures, double seconds, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Replica {Address} of model {Model} passed its probe: back in rotation")]
    private static partial void LogBack(ILogger logger, string address, string model);
}

/// <summary>One request's way through the replicas: which were tried, what each said, whether the one retry is spent.</summary>
internal sealed class RouteAttempts
{
    private Dictionary<int, string>? _failures;
    private ApiErrorException? _last;
    private int? _lastReplica;

    /// <summary>Replicas tried, one bit each.</summary>
    public ulong Tried { get; private set; }

    /// <summary>True once a backend failure (502, 504) has been retried.</summary>
    public bool Retried { get; set; }

    /// <summary>The last replica's error.</summary>
    public ApiErrorException? Last
    {
        get => _last;
        set
        {
            _last = value;
            if (value is not null && _lastReplica is { } index)
            {
                (_failures ??= [])[index] = value.Message;
            }
        }
    }

    public void Trying(Replica replica)
    {
        Tried |= 1UL << replica.Index;
        _lastReplica = replica.Index;
    }

    public string? FailureOf(int replica) => _failures?.GetValueOrDefault(replica);
}
