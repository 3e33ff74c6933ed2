using System.Threading.RateLimiting;

namespace LlmStack.Web.Security;

/// <summary>
/// A budget of so many a minute per key (a client address, a user), refilled continuously (one every
/// minute / <see cref="PerMinute"/>), never queued: an attempt beyond it is refused at once with the time to wait.
/// </summary>
public sealed class PerKeyBudget<TKey> : IDisposable where TKey : notnull
{
    private readonly PartitionedRateLimiter<TKey> _limiter;

    public PerKeyBudget(int perMinute)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(perMinute, 1);
        PerMinute = perMinute;
        _limiter = PartitionedRateLimiter.Create<TKey, TKey>(key => RateLimitPartition.GetTokenBucketLimiter(key,
            _ => new TokenBucketRateLimiterOptions
            {
                TokenLimit = perMinute,
                TokensPerPeriod = 1,
                ReplenishmentPeriod = TimeSpan.FromMinutes(1) / perMinute,
                QueueLimit = 0,
                AutoReplenishment = true,
            }));
    }

    public int PerMinute { get; }

    /// <summary>Takes one from <paramref name="key"/>'s budget: null when granted, else how long until the next one.</summary>
    public TimeSpan? TryTake(TKey key)
    {
        using var lease = _limiter.AttemptAcquire(key);
        if (lease.IsAcquired)
        {
            return null;
        }
        return lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) ? retryAfter : TimeSpan.FromMinutes(1) / PerMinute;
    }

    public void Dispose() => _limiter.Dispose();
}
