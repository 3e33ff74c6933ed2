namespace LlmStack.Api.Backends.Embedded.Hub;

/// <summary>
/// A hub model that cannot be had, with a message that names the repository and what to do.
/// <see cref="Transient"/> failures (the network, the hub's 5xx and 429) are retried with backoff; the rest
/// (no such repository or file, no access, no disk space, a file that fails verification twice) are final.
/// </summary>
internal sealed class HubException(string message, bool transient, Exception? inner = null) : Exception(message, inner)
{
    public bool Transient { get; } = transient;

    /// <summary>How long the hub asked us to wait (429/503 Retry-After), when it said.</summary>
    public TimeSpan? RetryAfter { get; init; }
}
