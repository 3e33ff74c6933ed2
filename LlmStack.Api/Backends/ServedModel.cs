using LlmStack.Api.Configuration;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace LlmStack.Api.Backends;

/// <summary>
/// A model the API serves: its identity, the backend's clients, and how to tell whether it is ready.
/// Backends create it; <see cref="ModelCatalog"/> wraps its clients in the shared pipeline.
/// </summary>
internal sealed class ServedModel : IAsyncDisposable
{
    /// <summary>The name clients send as <c>model</c>.</summary>
    public required string Id { get; init; }

    /// <summary>The backend's name (<c>ollama</c>, <c>openai</c>, <c>embedded</c>).</summary>
    public required string Backend { get; init; }

    /// <summary>The backend's own client; callers use <see cref="ModelCatalog"/>'s pipeline instead.</summary>
    public required IChatClient ChatClient { get; init; }

    /// <summary>Present when the backend can embed with this model.</summary>
    public IEmbeddingGenerator<string, Embedding<float>>? EmbeddingGenerator { get; init; }

    /// <summary>Present when the backend can tokenize with this model (<c>/tokenize</c>, <c>/detokenize</c>).</summary>
    public IModelTokenizer? Tokenizer { get; init; }

    /// <summary>
    /// How the backend reranks with this model (<c>/v1/rerank</c>); null when it cannot. <see cref="RerankSupport.Reason"/>
    /// says why not, for the 400.
    /// </summary>
    public RerankSupport Rerank { get; init; } = RerankSupport.None("its backend has no rerank support");

    /// <summary>Readiness of this model at its backend (reachable, model present, weights loaded).</summary>
    public required Func<CancellationToken, Task<HealthCheckResult>> CheckReadyAsync { get; init; }

    /// <summary>Shown as <c>owned_by</c> in <c>/v1/models</c>.</summary>
    public string OwnedBy { get; init; } = "llmstack";

    /// <summary>True for the built-in demonstration model, which is labelled as such wherever models are listed.</summary>
    public bool IsDemo { get; init; }

    /// <summary>True when the model takes image parts in messages; requests with images are refused otherwise.</summary>
    public bool AcceptsImages { get; init; }

    /// <summary>
    /// Maximum context length in tokens when known (reported by <c>/v1/models</c>), learned when the model is
    /// brought up; never changed by a readiness probe.
    /// </summary>
    public int? ContextLength
    {
        get => _contextLength ?? ContextLengthWhenLoaded?.Invoke();
        init => _contextLength = value;
    }

    private readonly int? _contextLength;

    /// <summary>For a model that is still on its way (a hub download): its context length once it is loaded, null before.</summary>
    public Func<int?>? ContextLengthWhenLoaded { get; init; }

    /// <summary>
    /// How many requests the backend serves at once when it has a fixed number (the embedded engine's slots); the
    /// model's admission gate admits that many unless <c>MaxConcurrentRequests</c> says otherwise.
    /// </summary>
    public int? Parallelism { get; init; }

    /// <summary>How long a call may wait for its first token (or a whole non-streamed reply) before a 504.</summary>
    public TimeSpan FirstTokenTimeout { get; init; } = ModelOptions.DefaultFirstTokenTimeout;

    /// <summary>
    /// The backends serving this model when it has several (<c>Replicas</c>), each brought up by its own backend; the
    /// model's clients then route among them. Empty for a model with one backend.
    /// </summary>
    public IReadOnlyList<ServedModel> Replicas { get; init; } = [];

    /// <summary>Unix seconds at which the model was brought up.</summary>
    public long Created { get; init; } = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    /// <summary>Resources the model holds (weights, HTTP clients) beyond its clients.</summary>
    public IAsyncDisposable? Owned { get; init; }

    public async ValueTask DisposeAsync()
    {
        ChatClient.Dispose();
        EmbeddingGenerator?.Dispose();
        if (Owned is not null)
        {
            await Owned.DisposeAsync();
        }
    }
}
