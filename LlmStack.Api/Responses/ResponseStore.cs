using System.Text.Json;
using LlmStack.Api.Contracts;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Options;

namespace LlmStack.Api.Responses;

/// <summary>
/// Stored responses (<c>store</c> not false), for <c>GET /v1/responses/{id}</c> and <c>previous_response_id</c>:
/// each kept as one JSON entry - the response and the whole conversation up to it - in the
/// <see cref="IDistributedCache"/>, for <see cref="ResponsesOptions.Retention"/> after it was written. In memory
/// by default (bounded by <see cref="ResponsesOptions.MaxStoredBytes"/>, oldest-unused first out); Redis when
/// <c>LlmStack:Responses:Redis</c> is set, so that several API replicas share one store.
/// </summary>
internal sealed class ResponseStore(IDistributedCache cache, IOptions<ResponsesOptions> options)
{
    private const string KeyPrefix = "llmstack:response:";

    public async Task SaveAsync(StoredResponse stored, CancellationToken cancellationToken)
    {
        var bytes = JsonSerializer.SerializeToUtf8Bytes(stored, ApiJsonContext.Default.StoredResponse);
        await cache.SetAsync(KeyPrefix + stored.Response.Id, bytes,
            new DistributedCacheEntryOptions { AbsoluteExpirationRelativeToNow = options.Value.Retention }, cancellationToken);
    }

    public async Task<StoredResponse?> GetAsync(string id, CancellationToken cancellationToken)
    {
        var bytes = await cache.GetAsync(KeyPrefix + id, cancellationToken);
        return bytes is null ? null : JsonSerializer.Deserialize(bytes, ApiJsonContext.Default.StoredResponse);
    }

    /// <summary>Removes a stored response; false when there was none.</summary>
    public async Task<bool> DeleteAsync(string id, CancellationToken cancellationToken)
    {
        if (await cache.GetAsync(KeyPrefix + id, cancellationToken) is null)
        {
            return false;
        }
        await cache.RemoveAsync(KeyPrefix + id, cancellationToken);
        return true;
    }
}
