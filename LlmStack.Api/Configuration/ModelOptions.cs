namespace LlmStack.Api.Configuration;

/// <summary>
/// One served model: <c>LlmStack:Models:&lt;n&gt;:*</c>, or <c>LlmStack__Models__&lt;n&gt;__*</c> as environment variables.
/// The flat keys say where the model runs and how requests are admitted to it; each backend's tuning lives in its
/// own section (<see cref="Embedded"/>, <see cref="Ollama"/>).
/// </summary>
public sealed class ModelOptions
{
    public static readonly TimeSpan DefaultConnectTimeout = TimeSpan.FromSeconds(10);

    public static readonly TimeSpan DefaultFirstTokenTimeout = TimeSpan.FromMinutes(5);

    /// <summary>Requests admitted at once to a model whose backend does not say how many it serves in parallel.</summary>
    public const int DefaultMaxConcurrentRequests = 8;

    public const int DefaultMaxQueue = 16;

    public static readonly TimeSpan DefaultQueueTimeout = TimeSpan.FromSeconds(60);

    /// <summary>The name clients send as <c>model</c> (e.g. <c>qwen2.5:7b</c>).</summary>
    public string Id { get; set; } = "";

    /// <summary><c>ollama</c>, <c>openai</c> or <c>embedded</c>.</summary>
    public string Backend { get; set; } = "";

    /// <summary>Base URL of the backend server (ollama, openai).</summary>
    public string? Endpoint { get; set; }

    /// <summary>The model's name at the backend when it differs from <see cref="Id"/>.</summary>
    public string? UpstreamModel { get; set; }

    /// <summary>Bearer key for openai backends.</summary>
    public string? ApiKey { get; set; }

    /// <summary>GGUF file (embedded).</summary>
    public string? Path { get; set; }

    /// <summary>
    /// Embedded, instead of <see cref="Path"/>: where to download the GGUF from, <c>hf://&lt;owner&gt;/&lt;repo&gt;/&lt;file.gguf&gt;</c>
    /// or <c>hf://&lt;owner&gt;/&lt;repo&gt;:&lt;quant&gt;</c> (optionally <c>@&lt;revision&gt;</c>); downloaded, verified and cached
    /// in the background while the API already runs.
    /// </summary>
    public string? Source { get; set; }

    /// <summary>How long to wait for a backend connection before answering 503/504 (ollama, openai).</summary>
    public TimeSpan ConnectTimeout { get; set; } = DefaultConnectTimeout;

    /// <summary>How long to wait for the first token (includes queueing and prompt processing) before a 504.</summary>
    public TimeSpan FirstTokenTimeout { get; set; } = DefaultFirstTokenTimeout;

    // Admission (every backend): beyond these bounds a request gets 503 "the model is overloaded" at once.

    /// <summary>
    /// Requests served at once; the rest queue. Default: the backend's own parallelism (embedded: ParallelSlots),
    /// otherwise <see cref="DefaultMaxConcurrentRequests"/> - so a slow Ollama or upstream never holds more open requests.
    /// </summary>
    public int? MaxConcurrentRequests { get; set; }

    /// <summary>Requests that may wait for a slot; one more is refused at once.</summary>
    public int MaxQueue { get; set; } = DefaultMaxQueue;

    /// <summary>How long a request may wait for a slot before it is refused.</summary>
    public TimeSpan QueueTimeout { get; set; } = DefaultQueueTimeout;

    /// <summary>
    /// <c>LlmStack:Models:&lt;n&gt;:Replicas:&lt;m&gt;:*</c>: several backends serving this one model id, instead of the
    /// model's own <see cref="Endpoint"/> or <see cref="Path"/>. <c>/v1/models</c> lists the model once.
    /// </summary>
    public List<ReplicaOptions> Replicas { get; set; } = [];

    /// <summary><c>LlmStack:Models:&lt;n&gt;:Routing:*</c>: how requests are spread over the <see cref="Replicas"/>.</summary>
    public RoutingOptions Routing { get; set; } = new();

    /// <summary>
    /// The id of another served model that takes a request this model cannot serve (every replica down, overloaded or
    /// failing before the first token); the response's <c>model</c> then names the fallback.
    /// </summary>
    public string? Fallback { get; set; }

    /// <summary><c>LlmStack:Models:&lt;n&gt;:Embedded:*</c>: llama.cpp tuning of the embedded backend.</summary>
    public EmbeddedModelOptions Embedded { get; set; } = new();

    /// <summary><c>LlmStack:Models:&lt;n&gt;:Ollama:*</c>: what the ollama backend sends with every request.</summary>
    public OllamaModelOptions Ollama { get; set; } = new();

    /// <summary>The name the backend knows the model by.</summary>
    public string BackendModelName => string.IsNullOrWhiteSpace(UpstreamModel) ? Id : UpstreamModel;

    /// <summary>Which of the model's <see cref="Replicas"/> these options describe (see <see cref="ForReplica"/>); null for the model itself.</summary>
    internal int? ReplicaIndex { get; private init; }

    /// <summary>
    /// The options of replica <paramref name="index"/> as its backend sees them: the model's, with the replica's own
    /// backend, endpoint, upstream name, key and file, and no replicas of its own.
    /// </summary>
    internal ModelOptions ForReplica(int index)
    {
        var replica = Replicas[index];
        return new ModelOptions
        {
            Id = Id,
            Backend = string.IsNullOrWhiteSpace(replica.Backend) ? Backend : replica.Backend,
            Endpoint = replica.Endpoint,
            UpstreamModel = string.IsNullOrWhiteSpace(replica.UpstreamModel) ? UpstreamModel : replica.UpstreamModel,
            ApiKey = string.IsNullOrWhiteSpace(replica.ApiKey) ? ApiKey : replica.ApiKey,
            Path = replica.Path,
            ConnectTimeout = ConnectTimeout,
            FirstTokenTimeout = FirstTokenTimeout,
            MaxConcurrentRequests = replica.MaxConcurrentRequests,
            Embedded = Embedded,
            Ollama = Ollama,
            ReplicaIndex = index,
        };
    }
}
