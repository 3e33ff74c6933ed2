using System.Runtime.CompilerServices;
using LlmStack.Api.Errors;
using LlmStack.Api.Configuration;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace LlmStack.Api.Backends.Embedded.Hub;

/// <summary>
/// An embedded model named by a hub source, served from the API's first second: its download, verification,
/// memory check and load run in the background while <c>/v1/models</c> lists it, its chats and embeddings get
/// 503 <c>model_loading</c> with <c>Retry-After</c> and the progress in the message - the contract of an Ollama
/// model still being pulled (<see cref="ApiErrorException.ModelLoading"/>) - and <c>/readyz</c> reports the
/// progress (Degraded while on its way, Unhealthy once it has failed, Healthy once loaded). A failure (no such
/// repository, no access, no disk space, too little memory) is final until a restart and said the same way
/// everywhere: 503 <c>backend_unavailable</c> with the reason.
/// </summary>
internal sealed class HubModel : IAsyncDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private readonly ModelOptions _options;
    private readonly ILogger _logger;
    private readonly Task _bringingUp;
    private volatile EmbeddedModelHost? _host;
    private volatile IChatClient? _chat;
    private volatile IEmbeddingGenerator<string, Embedding<float>>? _embeddings;
    private volatile RerankSupport? _rerank;

    private HubModel(ModelOptions options, HubModelSource source, HubModels hub, Func<string, EmbeddedModelHost> load, ILogger logger)
    {
        _options = options;
        _logger = logger;
        Progress = hub.Track(options.Id, options.Source!);
        _bringingUp = Task.Run(() => BringUpAsync(source, hub.CreateDownloader(), load, _stopping.Token));
    }

    public ModelDownloadProgress Progress { get; }

    /// <summary>The loaded model, once it is.</summary>
    public EmbeddedModelHost? Host => _host;

    /// <summary>Starts bringing the model up and returns it served at once, not yet ready.</summary>
    /// <param name="load">Loads the verified file (memory check, weights, context).</param>
    public static ServedModel Serve(ModelOptions options, HubModelSource source, HubModels hub, Func<string, EmbeddedModelHost> load, ILogger logger)
    {
        var model = new HubModel(options, source, hub, load, logger);
        return new ServedModel
        {
            Id = options.Id,
            Backend = EmbeddedBackend.BackendName,
            ChatClient = new LoadingChatClient(model),
            EmbeddingGenerator = new LoadingEmbeddingGenerator(model),
            Tokenizer = new LoadingTokenizer(model),
            Rerank = RerankSupport.By(new LoadingReranker(model)),
            OwnedBy = "huggingface",
            ContextLengthWhenLoaded = () => model._host?.ContextSize,
            Parallelism = options.Embedded.ParallelSlotsOrDefault,
            FirstTokenTimeout = options.FirstTokenTimeout,
            CheckReadyAsync = _ => Task.FromResult(model.Readiness()),
            Owned = model,
        };
    }

    private HealthCheckResult Readiness() => Progress.Phase switch
    {
        ModelFetchPhase.Ready => HealthCheckResult.Healthy(Progress.Describe()),
        ModelFetchPhase.Failed => HealthCheckResult.Unhealthy(Progress.Describe()),
        _ => HealthCheckResult.Degraded(Progress.Describe()),
    };

    /// <summary>The loaded model's clients, or the error a caller gets while there is none.</summary>
    private (IChatClient Chat, IEmbeddingGenerator<string, Embedding<float>> Embeddings) Ready()
    {
        if (_chat is { } chat && _embeddings is { } embeddings)
        {
            return (chat, embeddings);
        }
        if (Progress.Failure is { } failure)
        {
            throw ApiErrorException.BackendUnavailable(_options.Id, $"it could not be brought up from {_options.Source}: {failure}");
        }
        throw ApiErrorException.ModelLoading(_options.Id, Sentence(Progress.Describe()));
    }

    /// <summary>The loaded model, or the error a caller gets while there is none.</summary>
    private EmbeddedModelHost ReadyHost()
    {
        Ready();
        // Set before the clients: loaded whenever they are.
        return _host!;
    }

    private async Task BringUpAsync(HubModelSource source, ModelDownloader downloader, Func<string, EmbeddedModelHost> load, CancellationToken cancellationToken)
    {
        try
        {
            var path = await downloader.EnsureAsync(source, Progress, cancellationToken);
            Progress.Enter(ModelFetchPhase.Loading);
            var host = load(path);
            if (cancellationToken.IsCancellationRequested)
            {
                host.Dispose();
                return;
            }
            _host = host;
            _rerank = EmbeddedReranker.For(host);
            _embeddings = new EmbeddedEmbeddingGenerator(host);
            _chat = EmbeddedChatClient.For(host);
            Progress.Enter(ModelFetchPhase.Ready);
            _logger.LogInformation("Model {Model}: {Source} is ready ({Path})", _options.Id, _options.Source, path);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The API is stopping; the partial file stays for the next start.
        }
        catch (Exception ex) when (ex is HubException or ModelLoadException)
        {
            Progress.Enter(ModelFetchPhase.Failed, ex.Message);
            _logger.LogError("Model {Model} cannot be served from {Source}: {Error}", _options.Id, _options.Source, ex.Message);
        }
        catch (Exception ex)
        {
            Progress.Enter(ModelFetchPhase.Failed, ex.Message);
            _logger.LogError(ex, "Model {Model} cannot be served from {Source}: {Error}", _options.Id, _options.Source, ex.Message);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        try
        {
            await _bringingUp.WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (TimeoutException)
        {
            _logger.LogWarning("Model {Model}: its download did not stop within 10 s of the API stopping.", _options.Id);
        }
        _chat?.Dispose();
        _embeddings?.Dispose();
        _host?.Dispose();
        _stopping.Dispose();
    }

    private static string Sentence(string text) => text.EndsWith('.') ? text : text + ".";

    /// <summary>Chats of the model: 503 until it is loaded, then the embedded engine's.</summary>
    private sealed class LoadingChatClient(HubModel model) : IChatClient
    {
        public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
            model.Ready().Chat.GetResponseAsync(messages, options, cancellationToken);

        public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
            IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            await foreach (var update in model.Ready().Chat.GetStreamingResponseAsync(messages, options, cancellationToken))
            {
                yield return update;
            }
        }

        public object? GetService(Type serviceType, object? serviceKey = null) =>
            serviceKey is null && serviceType.IsInstanceOfType(this) ? this : model._chat?.GetService(serviceType, serviceKey);

        public void Dispose()
        {
            // The model owns the engine's clients.
        }
    }

    /// <summary>Embeddings of the model: 503 until it is loaded.</summary>
    private sealed class LoadingEmbeddingGenerator(HubModel model) : IEmbeddingGenerator<string, Embedding<float>>
    {
        public Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default) =>
            model.Ready().Embeddings.GenerateAsync(values, options, cancellationToken);

        public object? GetService(Type serviceType, object? serviceKey = null) =>
            serviceKey is null && serviceType.IsInstanceOfType(this) ? this : model._embeddings?.GetService(serviceType, serviceKey);

        public void Dispose()
        {
        }
    }

    /// <summary>Tokenization with the model's vocabulary: 503 until it is loaded.</summary>
    private sealed class LoadingTokenizer(HubModel model) : IModelTokenizer
    {
        public Task<TokenizedText> TokenizeAsync(TokenizeInput input, CancellationToken cancellationToken) =>
            new EmbeddedTokenizer(model.ReadyHost()).TokenizeAsync(input, cancellationToken);

        public Task<string> DetokenizeAsync(IReadOnlyList<int> tokens, CancellationToken cancellationToken) =>
            new EmbeddedTokenizer(model.ReadyHost()).DetokenizeAsync(tokens, cancellationToken);
    }

    /// <summary>Reranking, once the model is loaded and when it is a reranker: 503 until then, 400 when it is not one.</summary>
    private sealed class LoadingReranker(HubModel model) : IModelReranker
    {
        public Task<RerankScores> RerankAsync(string query, IReadOnlyList<string> documents, CancellationToken cancellationToken)
        {
            model.ReadyHost();
            var support = model._rerank!;
            return (support.Reranker ?? throw support.Refuse(model._options.Id)).RerankAsync(query, documents, cancellationToken);
        }
    }
}
