using System.Text.Json;
using LlmStack.Api.Access;
using LlmStack.Api.Contracts;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Options;

namespace LlmStack.Api.Responses;

/// <summary>
/// Stored responses (<c>store</c> not false), for <c>GET /v1/responses/{id}</c> and <c>previous_response_id</c>:
/// each kept as one JSON entry - the response, the whole conversation up to it, and the API key that created it - in the
/// <see cref="IDistributedCache"/>, for <see cref="ResponsesOptions.Retention"/> after it was written. A response
/// belongs to its key: for any other key it does not exist (404), whatever it asks. In memory by default, bounded by
/// <see cref="ResponsesOptions.MaxStoredBytes"/> shared equally between the configured keys - a key past its share loses
/// its own oldest responses, never another key's; Redis when <c>LlmStack:Responses:Redis</c> is set, so that several
/// API replicas share one store (bounded there by Redis's own <c>maxmemory</c>).
/// </summary>
internal sealed class ResponseStore
{
    private const string KeyPrefix = "llmstack:response:";

    private readonly IDistributedCache _cache;
    private readonly ResponsesOptions _options;
    private readonly TimeProvider _time;
    private readonly long _share;
    private readonly Lock _lock = new();
    // In memory only: each owner's entries, oldest first (all are kept equally long, so they also expire in this order).
    private readonly Dictionary<string, Share>? _shares;

    public ResponseStore(IDistributedCache cache, IOptions<ResponsesOptions> options, ApiKeyDirectory keys, TimeProvider time)
    {
        (_cache, _options, _time) = (cache, options.Value, time);
        _share = _options.MaxStoredBytes / Math.Max(1, keys.Count);
        _shares = string.IsNullOrWhiteSpace(_options.Redis) ? new(StringComparer.Ordinal) : null;
    }

    public async Task SaveAsync(StoredResponse stored, CancellationToken cancellationToken)
    {
        var bytes = JsonSerializer.SerializeToUtf8Bytes(stored, ApiJsonContext.Default.StoredResponse);
        if (MakeRoom(stored.Owner, stored.Response.Id, bytes.Length) is not { } room)
        {
            // Larger than the key's whole share: not kept (as the cache keeps nothing larger than its bound).
            return;
        }
        foreach (var evicted in room)
        {
            await _cache.RemoveAsync(KeyPrefix + evicted, cancellationToken);
        }
        await _cache.SetAsync(KeyPrefix + stored.Response.Id, bytes,
            new DistributedCacheEntryOptions { AbsoluteExpirationRelativeToNow = _options.Retention }, cancellationToken);
    }

    /// <summary>The response <paramref name="id"/> when <paramref name="owner"/> stored it; else null.</summary>
    public async Task<StoredResponse?> GetAsync(string id, string? owner, CancellationToken cancellationToken)
    {
        var bytes = await _cache.GetAsync(KeyPrefix + id, cancellationToken);
        return bytes is not null && JsonSerializer.Deserialize(bytes, ApiJsonContext.Default.StoredResponse) is { } stored && stored.Owner == owner
            ? stored
            : null;
    }

    /// <summary>Removes a response <paramref name="owner"/> stored; false when there was none.</summary>
    public async Task<bool> DeleteAsync(string id, string? owner, CancellationToken cancellationToken)
    {
        if (await GetAsync(id, owner, cancellationToken) is null)
        {
            return false;
        }
        await _cache.RemoveAsync(KeyPrefix + id, cancellationToken);
        lock (_lock)
        {
            if (_shares?.GetValueOrDefault(owner ?? "") is { } share && share.Entries.FirstOrDefault(e => e.Id == id) is { } entry)
            {
                share.Entries.Remove(entry);
                share.Bytes -= entry.Bytes;
            }
        }
        return true;
    }

    // Accounts a new entry to its owner's share and returns the owner's oldest entries that must go to make room for it.
    // Null when the entry is larger than a whole share.
    private List<string>? MakeRoom(string? owner, string id, long bytes)
    {
        if (_shares is null)
        {
            return [];
        }
        if (bytes > _share)
        {
            return null;
        }
        lock (_lock)
        {
            if (!_shares.TryGetValue(owner ?? "", out var share))
            {
                _shares[owner ?? ""] = share = new Share();
            }
            var now = _time.GetUtcNow();
            var evicted = new List<string>();
            while (share.Entries.First is { } oldest && (oldest.Value.Expires <= now || share.Bytes + bytes > _share))
            {
                share.Entries.RemoveFirst();
                share.Bytes -= oldest.Value.Bytes;
                // Expired entries are gone from the cache already.
                if (oldest.Value.Expires > now)
                {
                    evicted.Add(oldest.Value.Id);
                }
            }
            share.Entries.AddLast(new Entry(id, bytes, now + _options.Retention));
            share.Bytes += bytes;
            return evicted;
        }
    }

    private sealed record Entry(string Id, long Bytes, DateTimeOffset Expires);

    private sealed class Share
    {
        public LinkedList<Entry> Entries { get; } = new();

        public long Bytes { get; set; }
    }
}
