namespace LlmStack.Api.Models;

/// <summary>
/// One served model: <c>LlmStack:Models:&lt;n&gt;:*</c>, or <c>LlmStack__Models__&lt;n&gt;__*</c> as environment variables.
/// </summary>
public sealed class ModelOptions
{
    public static readonly TimeSpan DefaultFirstTokenTimeout = TimeSpan.FromMinutes(5);

    /// <summary>Requests admitted at once to a model whose backend does not say how many it serves in parallel.</summary>
    public const int DefaultMaxConcurrentRequests = 8;

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

    /// <summary>How long to wait for a backend connection before answering 503/504.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long to wait for the first token (includes queueing and prompt processing) before a 504.</summary>
    public TimeSpan FirstTokenTimeout { get; set; } = DefaultFirstTokenTimeout;

    // Admission (every backend): beyond these bounds a request gets 503 "the model is overloaded" at once.

    /// <summary>
    /// Requests served at once; the rest queue. Default: the backend's own parallelism (embedded: ParallelSlots),
    /// otherwise 8 - so a slow Ollama or upstream never holds more than that many open requests.
    /// </summary>
    public int? MaxConcurrentRequests { get; set; }

    /// <summary>Requests that may wait for a slot (default 16); one more is refused at once.</summary>
    public int MaxQueue { get; set; } = 16;

    /// <summary>How long a request may wait for a slot (default 60 s) before it is refused.</summary>
    public TimeSpan QueueTimeout { get; set; } = TimeSpan.FromSeconds(60);

    // Embedded tuning (LLamaSharp / llama.cpp).

    /// <summary>
    /// Context length in tokens per request (prompt + reply; embedded: per sequence of the batch context, which
    /// holds <see cref="ParallelSlots"/> of them); default: the model's own, capped at 4096.
    /// </summary>
    public uint? ContextSize { get; set; }

    /// <summary>
    /// CPU threads per decode; default: 1 for models under 50M parameters (thread overhead dominates them),
    /// otherwise every core.
    /// </summary>
    public int? Threads { get; set; }

    /// <summary>Prompt tokens per llama.cpp decode while no stream is generating; default 128 (as fast as 512 on CPU, smaller buffers).</summary>
    public uint? BatchSize { get; set; }

    /// <summary>
    /// Embedded: tokens per decode step while streams are generating - one for each stream plus a chunk of a
    /// waiting prompt; default 64. Smaller keeps the streams flowing while prompts arrive, larger starts new
    /// requests sooner. Must exceed <see cref="ParallelSlots"/>.
    /// </summary>
    public int? StepTokens { get; set; }

    /// <summary>Requests generated at once, batched into one decode per token (default 16); the rest wait in a FIFO queue.</summary>
    public int? ParallelSlots { get; set; }

    /// <summary>
    /// Embedded: tokens of KV cache shared by all sequences (prompt and reply tokens of running requests and cached
    /// conversations); default ParallelSlots x ContextSize, at most 16384 (and at least ContextSize). A request
    /// whose prompt does not fit waits until running requests free room; idle conversations are evicted first.
    /// </summary>
    public uint? KvCacheSize { get; set; }

    /// <summary>Layers offloaded to a GPU (0 on the CPU backend).</summary>
    public int GpuLayers { get; set; }

    // Ollama tuning.

    /// <summary>Ollama <c>num_ctx</c>: the context window Ollama allocates for this model.</summary>
    public int? NumCtx { get; set; }

    /// <summary>Ollama <c>keep_alive</c>: how long the model stays loaded after a request (e.g. <c>30m</c>, <c>-1</c>).</summary>
    public string? KeepAlive { get; set; }

    /// <summary>The name the backend knows the model by.</summary>
    public string BackendModelName => string.IsNullOrWhiteSpace(UpstreamModel) ? Id : UpstreamModel;
}
