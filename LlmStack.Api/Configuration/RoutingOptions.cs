namespace LlmStack.Api.Configuration;

/// <summary>
/// <c>LlmStack:Models:&lt;n&gt;:Routing:*</c>: how requests are spread over a model's <c>Replicas</c>, when a replica is taken
/// out of rotation and how it comes back. Each default is written here once.
/// </summary>
public sealed class RoutingOptions
{
    public const int DefaultFailuresToEject = 3;

    public static readonly TimeSpan DefaultEjectionTime = TimeSpan.FromSeconds(5);

    public static readonly TimeSpan DefaultMaxEjectionTime = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Consecutive failures (connection refused or reset, a 5xx, a timeout) that take a replica out of rotation; a success
    /// in between starts the count again.
    /// </summary>
    public int FailuresToEject { get; set; } = DefaultFailuresToEject;

    /// <summary>
    /// How long an ejected replica stays out before its first probe (its backend's readiness check); each failed probe
    /// doubles the wait, up to <see cref="MaxEjectionTime"/>. A passing probe puts it back in rotation.
    /// </summary>
    public TimeSpan EjectionTime { get; set; } = DefaultEjectionTime;

    /// <summary>The longest wait between two probes of an ejected replica.</summary>
    public TimeSpan MaxEjectionTime { get; set; } = DefaultMaxEjectionTime;

    /// <summary>
    /// Send a continuation (<c>previous_response_id</c>, or a chat whose leading messages are a recent request's) to the
    /// replica that served the conversation while it is in rotation and under its limit, so its prefix cache is reused.
    /// </summary>
    public bool Affinity { get; set; } = true;
}
