using System.Collections.Frozen;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace LlmStack.Api.Access;

/// <summary>One configured key as the API knows it: its name, a digest of its secret, its budget and its requests in flight.</summary>
internal sealed record ApiKey(string Name, byte[] Digest, KeyBudget Budget, KeyConcurrency Concurrency);

/// <summary>
/// The configured API keys. A presented key is compared with every configured one in constant time (digests
/// of equal length, compared without an early exit), so neither the timing of a wrong key nor its length
/// tells an attacker how close it came.
/// </summary>
internal sealed class ApiKeyDirectory
{
    private readonly ApiKey[] _keys;
    private readonly FrozenDictionary<string, ApiKey> _byName;

    public ApiKeyDirectory(IOptions<AuthOptions> options, IBudgetStore budgets)
    {
        _keys = [.. options.Value.Keys.Select((key, i) => new ApiKey(
            ApiKeyNames.Of(key, i),
            SHA256.HashData(Encoding.UTF8.GetBytes(key.Key)),
            new KeyBudget(ApiKeyNames.Of(key, i), key.RequestsPerMinute, key.TokensPerMinute, budgets),
            new KeyConcurrency(i, key.MaxConcurrentRequests)))];
        _byName = _keys.ToFrozenDictionary(k => k.Name, StringComparer.Ordinal);
    }

    /// <summary>False when no key is configured: the API is open.</summary>
    public bool Enabled => _keys.Length > 0;

    /// <summary>How many keys are configured.</summary>
    public int Count => _keys.Length;

    /// <summary>The key whose secret is <paramref name="presented"/>, or null.</summary>
    public ApiKey? Find(string presented)
    {
        var digest = SHA256.HashData(Encoding.UTF8.GetBytes(presented));
        ApiKey? found = null;
        foreach (var key in _keys)
        {
            if (CryptographicOperations.FixedTimeEquals(digest, key.Digest))
            {
                found = key;
            }
        }
        return found;
    }

    /// <summary>The key a request was authenticated with, or null (open API, or an endpoint that needs none).</summary>
    public ApiKey? Of(ClaimsPrincipal user) =>
        user.Identity is { IsAuthenticated: true, AuthenticationType: ApiKeyDefaults.Scheme, Name: { } name } && _byName.TryGetValue(name, out var key)
            ? key
            : null;
}
