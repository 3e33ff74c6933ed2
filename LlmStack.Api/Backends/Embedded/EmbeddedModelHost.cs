using LLama;
using LLama.Common;
using LLama.Exceptions;
using LLama.Native;
using LlmStack.Api.Models;
using LlmStack.Api.Telemetry;

namespace LlmStack.Api.Backends.Embedded;

/// <summary>
/// One GGUF model loaded in-process: the weights (loaded once, shared by every request), the settings each
/// request's context is created with, the chat template, and the <see cref="SlotPool"/> that bounds how many
/// requests generate at once.
/// </summary>
public sealed class EmbeddedModelHost : IDisposable
{
    /// <summary>Context length when the model's own is larger and none is configured.</summary>
    public const uint DefaultMaxContextSize = 4096;

    /// <summary>
    /// Prompt tokens decoded per llama.cpp batch when none is configured. Measured on a Qwen2.5-0.5B-shaped
    /// model: prompt throughput at 128 matched llama.cpp's default of 512, while compute buffers shrink and
    /// other requests' tokens interleave sooner (LLamaSharp runs one decode at a time per process).
    /// </summary>
    public const uint DefaultBatchSize = 128;

    /// <summary>Requests generating at once when none is configured; the rest wait in a FIFO queue.</summary>
    public const int DefaultParallelSlots = 4;

    // Below this size, thread coordination costs more than it saves: measured ~5,500 tok/s with 1 thread
    // against an erratic 1,000-1,700 tok/s with 2 on a tiny model.
    private const ulong SingleThreadParameterLimit = 50_000_000;

    private readonly List<CachedContext> _idle = [];
    private bool _disposed;

    private EmbeddedModelHost(string id, string path, LLamaWeights weights, ModelParams parameters, string? fallbackTemplate, SlotPool slots)
    {
        Id = id;
        Path = path;
        Weights = weights;
        Parameters = parameters;
        FallbackTemplate = fallbackTemplate;
        Slots = slots;
    }

    public string Id { get; }

    /// <summary>The GGUF file.</summary>
    public string Path { get; }

    public LLamaWeights Weights { get; }

    /// <summary>Context settings of every request (context size, threads, batch size).</summary>
    public ModelParams Parameters { get; }

    public int ContextSize => (int)Parameters.ContextSize!.Value;

    public SlotPool Slots { get; }

    /// <summary>
    /// A template llama.cpp knows, used when the GGUF carries none or one llama.cpp does not recognise;
    /// null when the model's own template applies.
    /// </summary>
    public string? FallbackTemplate { get; }

    /// <summary>Loads the weights once. Throws <see cref="ModelLoadException"/> naming the file when it cannot.</summary>
    public static EmbeddedModelHost Load(ModelOptions options, LlmStackMetrics? metrics = null, ILogger? logger = null)
    {
        var path = System.IO.Path.GetFullPath(options.Path ?? throw new ModelLoadException($"Model '{options.Id}' has no GGUF path."));
        var parameters = new ModelParams(path)
        {
            GpuLayerCount = options.GpuLayers,
            BatchSize = options.BatchSize ?? DefaultBatchSize,
            UBatchSize = options.BatchSize ?? DefaultBatchSize,
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

        try
        {
            parameters.ContextSize = options.ContextSize ?? Math.Min((uint)weights.ContextSize, DefaultMaxContextSize);
            parameters.Threads = options.Threads ?? (weights.ParameterCount < SingleThreadParameterLimit ? 1 : Environment.ProcessorCount);
            parameters.BatchThreads = parameters.Threads;
            // A first context proves the settings work (at start, not at the first request) and tells the
            // context size llama.cpp really uses: it rounds the requested one up (to a multiple of 256).
            using (var probe = weights.CreateContext(parameters))
            {
                parameters.ContextSize = probe.ContextSize;
            }
            var fallbackTemplate = ProbeTemplate(weights);
            if (fallbackTemplate is not null)
            {
                logger?.LogWarning("Model {Model}: the GGUF's chat template is missing or not one llama.cpp recognises; using {Template}", options.Id, fallbackTemplate);
            }
            var host = new EmbeddedModelHost(options.Id, path, weights, parameters, fallbackTemplate,
                new SlotPool(options.ParallelSlots ?? DefaultParallelSlots, options.Id, metrics));
            logger?.LogInformation(
                "Loaded {Path}: {Parameters:N0} parameters, context {Context}, {Threads} thread(s), batch {Batch}, {Slots} slot(s)",
                path, weights.ParameterCount, host.ContextSize, parameters.Threads, parameters.BatchSize, host.Slots.Capacity);
            return host;
        }
        catch (RuntimeError ex)
        {
            weights.Dispose();
            throw new ModelLoadException($"Model '{options.Id}' ({path}) loaded but no context could be created with its settings: {ex.Message}", ex);
        }
        catch
        {
            weights.Dispose();
            throw;
        }
    }

    /// <summary>A fresh context (its own KV cache; the weights are shared).</summary>
    public LLamaContext CreateContext() => Weights.CreateContext(Parameters);

    /// <summary>
    /// A context for one request, holding <paramref name="prompt"/>'s longest already-computed prefix: an idle
    /// context that served an earlier turn of the same conversation keeps its KV cache, so only the new tokens
    /// are processed (on a CPU, prompt processing dominates the time to first token). At most one idle context
    /// per slot is kept.
    /// </summary>
    public CachedContext RentContext(IReadOnlyList<LLamaToken> prompt)
    {
        CachedContext? best = null;
        var bestPrefix = -1;
        lock (_idle)
        {
            foreach (var candidate in _idle)
            {
                var prefix = candidate.CommonPrefix(prompt);
                if (prefix > bestPrefix)
                {
                    (best, bestPrefix) = (candidate, prefix);
                }
            }
            if (best is not null)
            {
                _idle.Remove(best);
            }
        }
        best ??= new CachedContext(this, CreateContext());
        best.Reuse(prompt);
        return best;
    }

    private void Return(CachedContext context)
    {
        lock (_idle)
        {
            if (!_disposed && _idle.Count < Slots.Capacity)
            {
                _idle.Add(context);
                return;
            }
        }
        context.Context.Dispose();
    }

    /// <summary>A template for one prompt: the GGUF's own, or <see cref="FallbackTemplate"/>.</summary>
    public LLamaTemplate CreateTemplate() =>
        FallbackTemplate is null ? new LLamaTemplate(Weights) { AddAssistant = true } : new LLamaTemplate(FallbackTemplate) { AddAssistant = true };

    public void Dispose()
    {
        lock (_idle)
        {
            _disposed = true;
            foreach (var idle in _idle)
            {
                idle.Context.Dispose();
            }
            _idle.Clear();
        }
        Weights.Dispose();
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

    /// <summary>
    /// A context lent to one request, with the tokens its KV cache holds. Dispose it to lend it again, after
    /// <see cref="Complete"/>; a context left mid-decode (error, cancellation) is freed instead, since its
    /// cache may not match <see cref="Tokens"/>.
    /// </summary>
    public sealed class CachedContext : IDisposable
    {
        private readonly EmbeddedModelHost _host;
        private readonly List<LLamaToken> _tokens = [];
        private bool _complete;

        internal CachedContext(EmbeddedModelHost host, LLamaContext context) => (_host, Context) = (host, context);

        public LLamaContext Context { get; }

        /// <summary>Tokens in the KV cache, in position order.</summary>
        public IReadOnlyList<LLamaToken> Tokens => _tokens;

        /// <summary>Prompt tokens already in the cache when the request started.</summary>
        public int ReusedTokens { get; private set; }

        /// <summary>Records tokens just decoded at the next positions.</summary>
        public void Decoded(ReadOnlySpan<LLamaToken> tokens) => _tokens.AddRange(tokens);

        /// <summary>The cache matches <see cref="Tokens"/>: it may serve another request.</summary>
        public void Complete() => _complete = true;

        public void Dispose()
        {
            if (_complete)
            {
                _complete = false;
                _host.Return(this);
            }
            else
            {
                Context.Dispose();
            }
        }

        internal int CommonPrefix(IReadOnlyList<LLamaToken> prompt)
        {
            var length = Math.Min(_tokens.Count, prompt.Count);
            var i = 0;
            while (i < length && _tokens[i] == prompt[i])
            {
                i++;
            }
            return i;
        }

        // Keeps the shared prefix and drops the rest; the last prompt token is always decoded again because
        // its logits are needed to sample the first new token.
        internal void Reuse(IReadOnlyList<LLamaToken> prompt)
        {
            var keep = Math.Min(CommonPrefix(prompt), prompt.Count - 1);
            Context.NativeHandle.MemorySequenceRemove(LLamaSeqId.Zero, keep, -1);
            _tokens.RemoveRange(keep, _tokens.Count - keep);
            ReusedTokens = keep;
        }
    }
}
