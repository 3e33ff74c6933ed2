namespace LlmStack.Api.Configuration;

/// <summary>
/// <c>LlmStack:Models:&lt;n&gt;:Replicas:&lt;m&gt;:*</c>: one of several backends serving the same model id (two vLLM boxes
/// and an Ollama on a CPU box kept as fallback). Unset keys take the model's own value (<c>Backend</c>,
/// <c>UpstreamModel</c>, <c>ApiKey</c>); timeouts and the backend sections (<c>Embedded:*</c>, <c>Ollama:*</c>) are the
/// model's. Requests are routed among the replicas by <see cref="RoutingOptions"/>.
/// </summary>
public sealed class ReplicaOptions
{
    public const int DefaultWeight = 1;

    /// <summary>The most replicas one model may have.</summary>
    public const int MaxReplicas = 64;

    /// <summary><c>ollama</c>, <c>openai</c> or <c>embedded</c>; default: the model's <c>Backend</c>.</summary>
    public string? Backend { get; set; }

    /// <summary>Base URL of this replica's server (ollama, openai).</summary>
    public string? Endpoint { get; set; }

    /// <summary>The model's name at this replica when it differs; default: the model's <c>UpstreamModel</c>, else its id.</summary>
    public string? UpstreamModel { get; set; }

    /// <summary>Bearer key for an openai replica; default: the model's <c>ApiKey</c>.</summary>
    public string? ApiKey { get; set; }

    /// <summary>GGUF file of an embedded replica (a second engine in this process).</summary>
    public string? Path { get; set; }

    /// <summary>
    /// Share of the traffic relative to the other replicas of the same priority (default 1): a replica of weight 2 is given
    /// twice the requests in flight of one of weight 1 before it counts as equally loaded.
    /// </summary>
    public int Weight { get; set; } = DefaultWeight;

    /// <summary>
    /// 0 (the default) is tried first; a replica with a larger number serves only while no replica with a smaller one is
    /// in rotation and under its limit - a CPU box kept as fallback.
    /// </summary>
    public int Priority { get; set; }

    /// <summary>
    /// Requests this replica serves at once before it counts as saturated; default: its backend's own parallelism
    /// (embedded: ParallelSlots), otherwise the model's <c>MaxConcurrentRequests</c> default of 8.
    /// </summary>
    public int? MaxConcurrentRequests { get; set; }
}
