using System.Diagnostics;
using LlmStack.Api.Backends;
using LlmStack.Api.Configuration;
using LlmStack.Api.Telemetry;
using Microsoft.Extensions.AI;

namespace LlmStack.Api.Pipeline;

/// <summary>
/// One backend of a replicated model, as the router sees it: its clients (each call bounded by the model's
/// <c>FirstTokenTimeout</c>), its share and priority, how many requests this API has in flight on it, and whether it is
/// in rotation. The health fields change under <see cref="ReplicaSet"/>'s lock on the replica.
/// </summary>
internal sealed class Replica
{
    private int _inFlight;
    private volatile bool _ejected;

    public Replica(int index, string address, ServedModel model, ReplicaOptions options, TagList tags)
    {
        Index = index;
        Address = address;
        Model = model;
        Weight = options.Weight;
        Priority = options.Priority;
        Limit = options.MaxConcurrentRequests ?? model.Parallelism ?? ModelOptions.DefaultMaxConcurrentRequests;
        Tags = tags;
        Chat = new FirstTokenTimeoutChatClient(model.ChatClient, model.Id, model.FirstTokenTimeout);
        Embeddings = model.EmbeddingGenerator is { } generator ? new EmbeddingDeadlineGenerator(generator, model.Id, model.FirstTokenTimeout) : null;
    }

    /// <summary>Its place in <c>Replicas:&lt;m&gt;</c>.</summary>
    public int Index { get; }

    /// <summary><c>server.address</c>: the server's host and port, or the embedded replica's file name.</summary>
    public string Address { get; }

    public ServedModel Model { get; }

    public IChatClient Chat { get; }

    public IEmbeddingGenerator<string, Embedding<float>>? Embeddings { get; }

    public int Weight { get; }

    public int Priority { get; }

    /// <summary>Requests in flight at which the replica counts as saturated.</summary>
    public int Limit { get; }

    /// <summary>The metric attributes of this replica (model, server.address).</summary>
    public TagList Tags { get; }

    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>False while the replica is ejected (it failed <c>FailuresToEject</c> times in a row and has not passed a probe since).</summary>
    public bool InRotation => !_ejected;

    /// <summary>Can take a request now: in rotation and under its limit.</summary>
    public bool Available => !_ejected && InFlight < Limit;

    // Health, guarded by lock (this) in ReplicaSet.
    internal int ConsecutiveFailures;
    internal int Ejections;
    internal long NextProbe;
    internal string? LastFailure;

    internal bool Ejected
    {
        get => _ejected;
        set => _ejected = value;
    }

    /// <summary>Counts a call on this replica in flight (and in its metrics) until the returned scope is disposed.</summary>
    public Call Start(LlmStackMetrics metrics)
    {
        Interlocked.Increment(ref _inFlight);
        metrics.ReplicaRequests.Add(1, Tags);
        metrics.ReplicaActive.Add(1, Tags);
        return new Call(this, metrics);
    }

    /// <summary>One call on the replica; disposing it ends it (once).</summary>
    internal sealed class Call(Replica replica, LlmStackMetrics metrics) : IDisposable
    {
        private readonly long _started = Stopwatch.GetTimestamp();
        private int _ended;

        public Replica Replica => replica;

        public TimeSpan Elapsed => Stopwatch.GetElapsedTime(_started);

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _ended, 1) == 0)
            {
                Interlocked.Decrement(ref replica._inFlight);
                metrics.ReplicaActive.Add(-1, replica.Tags);
            }
        }
    }
}
