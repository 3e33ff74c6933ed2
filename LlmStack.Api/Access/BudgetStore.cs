namespace LlmStack.Api.Access;

/// <summary>
/// One take from one budget bucket: the bucket (<paramref name="Bucket"/>) holds up to <paramref name="PerMinute"/> units
/// and refills continuously at that rate; the take succeeds only when the bucket holds at least <paramref name="Need"/>,
/// and then removes <paramref name="Cost"/> (a negative cost gives units back, never past the bucket's size).
/// </summary>
internal readonly record struct BucketTake(string Bucket, int PerMinute, double Need, double Cost)
{
    /// <summary>A need every level meets: a charge or refund that must happen whatever the level.</summary>
    public const double Unconditional = -1e15;
}

/// <summary>The levels of a take's buckets after it (in the order of the takes), and whether it was made.</summary>
internal readonly record struct BucketLevels(bool Taken, double[] Levels);

/// <summary>
/// Where the budgets' buckets live, and the one primitive the budget rule (<see cref="KeyBudget"/>) is written in: refill
/// every bucket of a take to now, then, only when each holds what its take needs, take every cost - all at once, so
/// that concurrent requests never both spend the same units. In this process (<see cref="MemoryBudgetStore"/>), or in
/// Redis, shared by every replica of the API, as one Lua script (<see cref="RedisBudgetStore"/>).
/// </summary>
internal interface IBudgetStore
{
    /// <exception cref="BudgetStoreUnavailableException">The store cannot be reached: the budget cannot be decided.</exception>
    ValueTask<BucketLevels> TakeAsync(IReadOnlyList<BucketTake> takes, CancellationToken cancellationToken);
}

/// <summary>The budgets' shared store is configured but does not answer: budgets fail closed.</summary>
internal sealed class BudgetStoreUnavailableException(string message, Exception? innerException = null) : Exception(message, innerException);

/// <summary>The buckets of one API process, refilled by its <see cref="TimeProvider"/>.</summary>
internal sealed class MemoryBudgetStore(TimeProvider time) : IBudgetStore
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Bucket> _buckets = new(StringComparer.Ordinal);

    public ValueTask<BucketLevels> TakeAsync(IReadOnlyList<BucketTake> takes, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            var now = time.GetTimestamp();
            var buckets = new Bucket[takes.Count];
            var taken = true;
            for (var i = 0; i < takes.Count; i++)
            {
                var take = takes[i];
                if (!_buckets.TryGetValue(take.Bucket, out var bucket))
                {
                    // A bucket never used is full.
                    _buckets[take.Bucket] = bucket = new Bucket { Level = take.PerMinute, RefilledAt = now };
                }
                var elapsed = time.GetElapsedTime(bucket.RefilledAt, now);
                bucket.Level = Math.Min(take.PerMinute, bucket.Level + (elapsed.TotalSeconds * take.PerMinute / 60.0));
                bucket.RefilledAt = now;
                buckets[i] = bucket;
                taken &= bucket.Level >= take.Need;
            }
            var levels = new double[takes.Count];
            for (var i = 0; i < takes.Count; i++)
            {
                if (taken)
                {
                    buckets[i].Level = Math.Min(takes[i].PerMinute, buckets[i].Level - takes[i].Cost);
                }
                levels[i] = buckets[i].Level;
            }
            return ValueTask.FromResult(new BucketLevels(taken, levels));
        }
    }

    private sealed class Bucket
    {
        public double Level { get; set; }

        public long RefilledAt { get; set; }
    }
}
