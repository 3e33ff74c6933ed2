using System.Collections.Concurrent;
using System.Diagnostics;

namespace LlmStack.Benchmarks.Load;

/// <summary>How far a sweep goes: the levels, and per level a request count and a time limit.</summary>
public sealed record SweepLimits(IReadOnlyList<int> Concurrency, int RequestsPerLevel, TimeSpan TimePerLevel);

/// <summary>
/// Runs the same workload at each concurrency level: that many clients send requests back to back until the
/// level's request count is reached or its time is up (no request starts after that; those in flight finish).
/// </summary>
public static class LoadSweep
{
    /// <param name="send">Sends request number n and measures it.</param>
    /// <param name="onLevel">Called as each level completes (progress on the console).</param>
    public static async Task<IReadOnlyList<LevelSummary>> RunAsync(
        SweepLimits limits,
        Func<int, CancellationToken, Task<RequestSample>> send,
        Action<LevelSummary>? onLevel,
        CancellationToken cancellationToken)
    {
        var levels = new List<LevelSummary>();
        var requestNumber = 0;
        foreach (var concurrency in limits.Concurrency)
        {
            var samples = new ConcurrentQueue<RequestSample>();
            var started = 0;
            var clock = Stopwatch.StartNew();
            async Task Client()
            {
                while (Interlocked.Increment(ref started) <= limits.RequestsPerLevel && clock.Elapsed < limits.TimePerLevel)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    samples.Enqueue(await send(Interlocked.Increment(ref requestNumber), cancellationToken));
                }
            }
            await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(Client, cancellationToken)));
            var level = LevelSummary.From(concurrency, [.. samples], clock.Elapsed);
            levels.Add(level);
            onLevel?.Invoke(level);
        }
        return levels;
    }
}
