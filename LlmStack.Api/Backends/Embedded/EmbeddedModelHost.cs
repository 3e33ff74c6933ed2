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

    /// <summary>Prompt tokens decoded per llama.cpp batch when none is configured (llama.cpp's own default).</summary>
    public const uint DefaultBatchSize = 512;

    /// <summary>Requests generating at once when none is configured; the rest wait in a FIFO queue.</summary>
    public const int DefaultParallelSlots = 4;

    // Below this size, thread coordination costs more than it saves: measured ~5,500 tok/s with 1 thread
    // against an erratic 1,000-1,700 tok/s with 2 on a tiny model.
    private const ulong SingleThreadParameterLimit = 50_000_000;

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

    /// <summary>A fresh context for one request (its own KV cache; the weights are shared).</summary>
    public LLamaContext CreateContext() => Weights.CreateContext(Parameters);

    /// <summary>A template for one prompt: the GGUF's own, or <see cref="FallbackTemplate"/>.</summary>
    public LLamaTemplate CreateTemplate() =>
        FallbackTemplate is null ? new LLamaTemplate(Weights) { AddAssistant = true } : new LLamaTemplate(FallbackTemplate) { AddAssistant = true };

    public void Dispose() => Weights.Dispose();

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
