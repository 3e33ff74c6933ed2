using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using LlmStack.Api.Backends.Embedded.Batching;
using LlmStack.Api.Telemetry;

namespace LlmStack.Api.Backends.Embedded;

/// <summary>
/// The embedded models' prompt caches, as <c>llmstack_prefix_cache_*</c> by <c>gen_ai.request.model</c>: prompt tokens
/// found cached (by <c>llmstack.cache.tier</c>: <c>kv</c> in a live sequence, <c>host</c> restored from host memory) and
/// computed, conversations evicted (by tier), and the host memory the saved ones hold. Counted in tokens, as vLLM's
/// <c>prefix_cache_hits</c> and <c>prefix_cache_queries</c> are: hits / (hits + misses) is the share of prompt tokens
/// that cost nothing.
/// </summary>
internal sealed class PrefixCacheMetrics
{
    public const string TierTag = "llmstack.cache.tier";

    private readonly ConcurrentDictionary<EmbeddedModelHost, byte> _hosts = new();

    public PrefixCacheMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(LlmStackMetrics.MeterName);
        meter.CreateObservableCounter("llmstack.prefix_cache.hits", () => Measure(
            (s => s.KvHitTokens, "kv"), (s => s.HostHitTokens, "host")), "{token}",
            "Prompt tokens of admitted requests found in an embedded model's cache, by llmstack.cache.tier: kv (a live sequence, continued or copied), host (restored from host memory).");
        meter.CreateObservableCounter("llmstack.prefix_cache.misses", () => Measure((s => s.MissTokens, null)), "{token}",
            "Prompt tokens of admitted requests not found in the cache: computed.");
        meter.CreateObservableCounter("llmstack.prefix_cache.evictions", () => Measure(
            (s => s.KvEvictions, "kv"), (s => s.HostEvictions, "host")), "{conversation}",
            "Conversations dropped, by llmstack.cache.tier: kv (from the KV cache, for another conversation, for room, or idle while other requests run; saved to host memory when it is on), host (from host memory, to keep within HostCacheBytes).");
        meter.CreateObservableGauge("llmstack.prefix_cache.bytes", () => Measure((s => s.HostBytes, "host")), "By",
            "Host memory held by the KV state of saved conversations.");
        meter.CreateObservableGauge("llmstack.prefix_cache.entries", () => Measure((s => s.HostEntries, "host")), "{conversation}",
            "Conversations saved in host memory.");
    }

    /// <summary>Reports <paramref name="host"/>'s cache until the returned handle is disposed (with the model).</summary>
    public IDisposable Observe(EmbeddedModelHost host)
    {
        _hosts.TryAdd(host, 0);
        return new Observation(this, host);
    }

    private IEnumerable<Measurement<long>> Measure(params (Func<PrefixCacheStats, long> Value, string? Tier)[] series)
    {
        foreach (var host in _hosts.Keys)
        {
            var stats = host.Scheduler.PrefixCache;
            foreach (var (value, tier) in series)
            {
                yield return tier is null
                    ? new Measurement<long>(value(stats), new KeyValuePair<string, object?>(LlmStackMetrics.RequestModel, host.Id))
                    : new Measurement<long>(value(stats), new KeyValuePair<string, object?>(LlmStackMetrics.RequestModel, host.Id), new KeyValuePair<string, object?>(TierTag, tier));
            }
        }
    }

    private sealed class Observation(PrefixCacheMetrics metrics, EmbeddedModelHost host) : IDisposable
    {
        public void Dispose() => metrics._hosts.TryRemove(host, out _);
    }
}
