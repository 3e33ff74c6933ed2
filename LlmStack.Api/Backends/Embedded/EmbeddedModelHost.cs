using LLama;
using LLama.Common;
using LLama.Exceptions;
using LLama.Extensions;
using LLama.Native;
using LlmStack.Api.Backends.Embedded.Batching;
using LlmStack.Api.Configuration;
using LlmStack.Api.Pipeline;
using LlmStack.Api.Telemetry;

namespace LlmStack.Api.Backends.Embedded;

/// <summary>
/// One GGUF model loaded in-process: the weights (loaded once), the chat template, and the
/// <see cref="BatchScheduler"/> that runs every chat request of the model in one llama.cpp context. Embedding
/// requests get a context of their own each (the model's admission gate bounds how many run at once).
/// </summary>
internal sealed class EmbeddedModelHost : IDisposable
{
    private EmbeddedModelHost(string id, string path, LLamaWeights weights, ModelParams parameters, string? fallbackTemplate, BatchScheduler scheduler)
    {
        Id = id;
        Path = path;
        Weights = weights;
        Parameters = parameters;
        FallbackTemplate = fallbackTemplate;
        Scheduler = scheduler;
        _tokenText = new Lazy<TokenText>(() => TokenText.Of(weights));
    }

    public string Id { get; }

    /// <summary>The GGUF file.</summary>
    public string Path { get; }

    public LLamaWeights Weights { get; }

    /// <summary>Settings of a single-sequence context (context size per sequence, threads, batch size).</summary>
    public ModelParams Parameters { get; }

    /// <summary>Tokens one request may hold (prompt + reply).</summary>
    public int ContextSize => Scheduler.Settings.SequenceContext;

    /// <summary>Runs every chat generation of this model.</summary>
    public BatchScheduler Scheduler { get; }


    /// <summary>
    /// A template llama.cpp knows, used when the GGUF carries none or one llama.cpp does not recognise;
    /// null when the model's own template applies.
    /// </summary>
    public string? FallbackTemplate { get; }

    /// <summary>The batching settings <paramref name="model"/> asks for, defaults filled in (the context size needs the model's own).</summary>
    public static BatchSettings SettingsFor(ModelOptions model, int modelContext)
    {
        var options = model.Embedded;
        var context = options.ContextSizeFor(modelContext);
        return new BatchSettings(
            Slots: options.ParallelSlotsOrDefault,
            SequenceContext: context,
            KvCacheTokens: options.KvCacheSizeFor(context),
            StepTokens: options.StepTokensOrDefault,
            BatchSize: options.BatchSizeOrDefault,
            TargetTokenGap: options.TargetTokenGapOrDefault,
            ReuseSimilarity: options.SlotPromptSimilarityOrDefault,
            HostCacheBytes: options.HostCacheBytesOrDefault,
            // Waiting for KV room is waiting for the model, as in the admission queue.
            RoomTimeout: model.QueueTimeout);
    }

    /// <summary>Loads the weights once. Throws <see cref="ModelLoadException"/> naming the file when it cannot.</summary>
    /// <param name="file">The GGUF file when it is not <c>options.Path</c> (a file downloaded for <c>options.Source</c>).</param>
    public static EmbeddedModelHost Load(ModelOptions options, ILogger? logger = null, string? file = null)
    {
        var path = System.IO.Path.GetFullPath(file ?? options.Path ?? throw new ModelLoadException($"Model '{options.Id}' has no GGUF path."));
        var parameters = new ModelParams(path)
        {
            GpuLayerCount = options.Embedded.GpuLayers,
            BatchSize = (uint)options.Embedded.BatchSizeOrDefault,
            UBatchSize = (uint)options.Embedded.BatchSizeOrDefault,
        };

        LLamaWeights weights;
        try
        {
            weights = LLamaWeights.LoadFromFile(parameters);
        }
        catch (Exception ex) when (ex is LoadWeightsFailedException or RuntimeError or ArgumentException or IOException)
        {
            throw new ModelLoadException($"The GGUF file '{path}' of model '{options.Id}' could not be loaded: {ex.Message}", ex);
        }

        SafeLLamaContextHandle? context = null;
        try
        {
            var settings = SettingsFor(options, weights.ContextSize);
            if (settings.KvCacheTokens < settings.SequenceContext)
            {
                throw new ModelLoadException(
                    $"Model '{options.Id}': KvCacheSize {settings.KvCacheTokens} is less than its context of {settings.SequenceContext} tokens (ContextSize, or the model's own up to {EmbeddedModelOptions.DefaultMaxContextSize}): one request must fit the cache. Raise KvCacheSize or lower ContextSize.");
            }
            parameters.ContextSize = (uint)settings.SequenceContext;
            parameters.Threads = options.Embedded.ThreadsFor(weights.ParameterCount);
            parameters.BatchThreads = parameters.Threads;
            // Created at start, not at the first request: bad settings (or too little memory for the KV cache of
            // every slot) fail here, naming the model.
            context = CreateBatchContext(weights, parameters, settings);
            var fallbackTemplate = ProbeTemplate(weights);
            if (fallbackTemplate is not null)
            {
                logger?.LogWarning("Model {Model}: the GGUF's chat template is missing or not one llama.cpp recognises; using {Template}", options.Id, fallbackTemplate);
            }
            var scheduler = new BatchScheduler(options.Id, weights, context, settings, logger);
            var host = new EmbeddedModelHost(options.Id, path, weights, parameters, fallbackTemplate, scheduler);
            logger?.LogInformation(
                "Loaded {Path}: {Parameters:N0} parameters, {Threads} thread(s); {Slots} sequence(s) of up to {Context} tokens sharing a {KvCache}-token KV cache, steps of at least {StepTokens} tokens while generating (target gap {Gap} ms), batch {Batch}",
                path, weights.ParameterCount, parameters.Threads, settings.Slots, settings.SequenceContext, settings.KvCacheTokens, settings.StepTokens,
                settings.TargetTokenGap.TotalMilliseconds, settings.BatchSize);
            return host;
        }
        catch (RuntimeError ex)
        {
            context?.Dispose();
            weights.Dispose();
            throw new ModelLoadException($"Model '{options.Id}' ({path}) loaded but no context could be created with its settings: {ex.Message}", ex);
        }
        catch
        {
            context?.Dispose();
            weights.Dispose();
            throw;
        }
    }

    private readonly Lazy<TokenText> _tokenText;

    /// <summary>What each token writes, for sampling under a grammar (built on first use).</summary>
    internal TokenText TokenText => _tokenText.Value;

    /// <summary>A fresh single-sequence context (its own KV cache; the weights are shared).</summary>
    public LLamaContext CreateContext() => Weights.CreateContext(Parameters);

    /// <summary>A template for one prompt: the GGUF's own, or <see cref="FallbackTemplate"/>.</summary>
    public LLamaTemplate CreateTemplate() =>
        FallbackTemplate is null ? new LLamaTemplate(Weights) { AddAssistant = true } : new LLamaTemplate(FallbackTemplate) { AddAssistant = true };

    /// <summary>Its metrics' registration (<see cref="PrefixCacheMetrics"/>), ended with it.</summary>
    internal IDisposable? Observation { get; set; }

    public void Dispose()
    {
        Observation?.Dispose();
        Scheduler.Dispose();
        Weights.Dispose();
    }

    // One context, one sequence per slot, one KV cache they share (unified): a prefix copied from another
    // sequence costs no memory and no copy, a long conversation may use more than an equal share, and idle
    // conversations are evicted cell by cell when the cache runs short.
    private static SafeLLamaContextHandle CreateBatchContext(LLamaWeights weights, ModelParams parameters, BatchSettings settings)
    {
        parameters.ToLlamaContextParams(out var native);
        native.n_ctx = (uint)settings.KvCacheTokens;
        native.n_seq_max = (uint)settings.Slots;
        native.n_batch = (uint)settings.MaxDecodeTokens;
        native.n_ubatch = (uint)settings.MaxDecodeTokens;
        native.kv_unified = true;
        return SafeLLamaContextHandle.Create(weights.NativeHandle, native);
    }

    private static string? ProbeTemplate(LLamaWeights weights)
    {
        try
        {
            new LLamaTemplate(weights).Add("user", "probe").Apply();
            return null;
        }
        catch (Exception ex) when (ex is TemplateNotFoundException or MissingTemplateException)
        {
            return "chatml";
        }
    }
}
