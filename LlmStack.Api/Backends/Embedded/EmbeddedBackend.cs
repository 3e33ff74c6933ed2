using System.Text;
using LLama.Native;
using LlmStack.Api.Backends.Embedded.Hub;
using LlmStack.Api.Configuration;
using LlmStack.Api.Pipeline;
using LlmStack.Api.Telemetry;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace LlmStack.Api.Backends.Embedded;

/// <summary>
/// <c>embedded</c>: a GGUF file run in-process by llama.cpp (LLamaSharp's CPU backend), so the stack serves
/// a model with no Docker and no Ollama. The file is <c>Path</c>, or is downloaded from a hub for <c>Source</c>
/// (<see cref="HubModel"/>); either way its memory needs are checked against the machine before it is loaded
/// (<see cref="ModelMemory"/>). Its tuning is the model's <c>Embedded</c> section (<see cref="EmbeddedModelOptions"/>,
/// where every default is written).
/// </summary>
internal sealed class EmbeddedBackend : IModelBackend
{
    public const string BackendName = "embedded";

    private const long MaxHostCacheBytes = 1L << 40;

    private static readonly byte[] GgufMagic = "GGUF"u8.ToArray();

    private readonly ILoggerFactory _loggerFactory;
    private readonly HubModels? _hub;
    private readonly IMachineMemory? _memory;
    private readonly IConfiguration? _configuration;
    private readonly PrefixCacheMetrics? _prefixCache;

    public EmbeddedBackend(ILoggerFactory loggerFactory, HubModels? hub = null, IMachineMemory? memory = null, IConfiguration? configuration = null,
        PrefixCacheMetrics? prefixCache = null)
    {
        _prefixCache = prefixCache;
        _loggerFactory = loggerFactory;
        _hub = hub;
        _memory = memory;
        _configuration = configuration;
        RouteNativeLogs(loggerFactory.CreateLogger("LLama.Native"));
    }

    public string Name => BackendName;

    public IEnumerable<string> Validate(ModelOptions options, string keyPrefix)
    {
        var hasPath = !string.IsNullOrWhiteSpace(options.Path);
        var hasSource = !string.IsNullOrWhiteSpace(options.Source);
        if (hasPath && hasSource)
        {
            yield return $"{keyPrefix}:Path and {keyPrefix}:Source are both set; use one: Path for a GGUF file on this machine, Source for one downloaded from a hub.";
        }
        else if (hasSource)
        {
            if (!HubModelSource.TryParse(options.Source, out _, out var sourceProblem))
            {
                yield return $"{keyPrefix}:Source {sourceProblem}";
            }
            if (_configuration is not null && HubSettings.Validate(_configuration) is { } endpointProblem)
            {
                yield return endpointProblem;
            }
        }
        else if (!hasPath)
        {
            yield return $"{keyPrefix}:Path is required for the embedded backend: the GGUF file to run (or {keyPrefix}:Source, e.g. hf://Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M, to download one).";
        }
        else if (ReadMagic(options.Path!) is { } problem)
        {
            yield return $"{keyPrefix}:Path {problem}";
        }

        foreach (var problem in Validate(options.Embedded, $"{keyPrefix}:Embedded"))
        {
            yield return problem;
        }
    }

    private static IEnumerable<string> Validate(EmbeddedModelOptions options, string key)
    {
        if (options.ContextSize is < 64 or > 1_048_576)
        {
            yield return $"{key}:ContextSize {options.ContextSize} is out of range: use 64 to 1048576 tokens.";
        }
        if (options.Threads is < 1 or > 1024)
        {
            yield return $"{key}:Threads {options.Threads} is out of range: use 1 to 1024.";
        }
        if (options.BatchSize is < 1 or > 65_536)
        {
            yield return $"{key}:BatchSize {options.BatchSize} is out of range: use 1 to 65536 tokens.";
        }
        if (options.ParallelSlots is < 1 or > 256)
        {
            yield return $"{key}:ParallelSlots {options.ParallelSlots} is out of range: use 1 to 256.";
        }
        if (options.KvCacheSize is < 64 or > 16_777_216)
        {
            yield return $"{key}:KvCacheSize {options.KvCacheSize} is out of range: use 64 to 16777216 tokens.";
        }
        else if (options.KvCacheSize < options.ContextSize)
        {
            yield return $"{key}:KvCacheSize {options.KvCacheSize} is less than ContextSize {options.ContextSize}: one request must fit the cache.";
        }
        if (options.StepTokens is < 2 or > 65_536)
        {
            yield return $"{key}:StepTokens {options.StepTokens} is out of range: use 2 to 65536 tokens.";
        }
        else if (options.ParallelSlots is null or (>= 1 and <= 256) && options.StepTokensOrDefault is var step
            && options.ParallelSlotsOrDefault is var slots && step <= slots)
        {
            yield return $"{key}:StepTokens {step} must exceed ParallelSlots {slots}: a step carries one token of every generating sequence, and a waiting prompt needs room too.";
        }
        if (options.TargetTokenGap is { } gap && (gap < TimeSpan.Zero || gap > TimeSpan.FromMinutes(1)))
        {
            yield return $"{key}:TargetTokenGap {gap} is out of range: use 00:00:00 (every step StepTokens) to 00:01:00.";
        }
        if (options.SlotPromptSimilarity is < 0 or > 1 || (options.SlotPromptSimilarity is { } similarity && double.IsNaN(similarity)))
        {
            yield return $"{key}:SlotPromptSimilarity {options.SlotPromptSimilarity} is out of range: use 0 to 1 (the share of an idle sequence's tokens a prompt must start with to continue it).";
        }
        if (options.HostCacheBytes is < 0 or > MaxHostCacheBytes)
        {
            yield return $"{key}:HostCacheBytes {options.HostCacheBytes} is out of range: use 0 (off) to {MaxHostCacheBytes} bytes (1 TiB).";
        }
        if (options.GpuLayers < 0)
        {
            yield return $"{key}:GpuLayers {options.GpuLayers} must be 0 or more.";
        }
    }

    public Task<ServedModel> CreateAsync(ModelOptions options, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(options.Source))
        {
            return Task.FromResult(Serve(options, isDemo: false));
        }
        // Validation at start guarantees a well-formed source.
        HubModelSource.TryParse(options.Source, out var source, out _);
        var hub = _hub ?? throw new InvalidOperationException("Hub models are not registered (AddEmbeddedBackend registers them).");
        return Task.FromResult(HubModel.Serve(options, source!, hub, file => LoadChecked(options, file), _loggerFactory.CreateLogger<HubModel>()));
    }

    /// <summary>Loads <paramref name="file"/> (or the options' Path) once the machine is known to have the memory it needs.</summary>
    private EmbeddedModelHost LoadChecked(ModelOptions options, string? file = null)
    {
        var path = Path.GetFullPath(file ?? options.Path!);
        var logger = _loggerFactory.CreateLogger<EmbeddedBackend>();
        if (ModelMemory.For(path, options) is { } estimate && (_memory ?? new MachineMemory()).Read() is { } available)
        {
            if (ModelMemory.Refusal(options.Id, path, estimate, available) is { } refusal)
            {
                throw new ModelLoadException(refusal);
            }
            logger.LogInformation("Model {Model} needs about {Needed} of memory ({Available} available: {Source})", options.Id,
                ModelDownloadProgress.FormatBytes(estimate.TotalBytes), ModelDownloadProgress.FormatBytes(available.AvailableBytes), available.Source);
        }
        var host = EmbeddedModelHost.Load(options, logger, path);
        LlamaCppLibrary.Describe(logger);
        host.Observation = _prefixCache?.Observe(host);
        return host;
    }

    internal ServedModel Serve(ModelOptions options, bool isDemo)
    {
        var host = LoadChecked(options);
        return new ServedModel
        {
            Id = options.Id,
            Backend = BackendName,
            ChatClient = EmbeddedChatClient.For(host),
            EmbeddingGenerator = new EmbeddedEmbeddingGenerator(host),
            Tokenizer = new EmbeddedTokenizer(host),
            Rerank = EmbeddedReranker.For(host),
            IsDemo = isDemo,
            ContextLength = host.ContextSize,
            Parallelism = options.Embedded.ParallelSlotsOrDefault,
            FirstTokenTimeout = options.FirstTokenTimeout,
            // Weights are loaded before the model is served, so a served embedded model is always ready.
            CheckReadyAsync = _ => Task.FromResult(HealthCheckResult.Healthy(
                isDemo ? "built-in demo model loaded" : $"{Path.GetFileName(host.Path)} loaded")),
            Owned = new HostLease(host),
        };
    }

    private static string? ReadMagic(string path)
    {
        try
        {
            using var file = File.OpenRead(path);
            Span<byte> magic = stackalloc byte[4];
            return file.ReadAtLeast(magic, 4, throwOnEndOfStream: false) == 4 && magic.SequenceEqual(GgufMagic)
                ? null
                : $"'{path}' is not a GGUF file (it does not start with the GGUF magic bytes).";
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            return $"'{path}' cannot be read: {ex.Message}";
        }
    }

    // llama.cpp's log callback is process-wide and outlives a host (tests start many), so it is set once
    // and writes to the logger of the latest backend. It logs every context it creates at info level: only
    // its warnings and errors deserve more than Debug. It must never throw back into native code.
    private static volatile ILogger? s_nativeLogger;
    private static int s_nativeLogsRouted;
    private static readonly ThreadLocal<(StringBuilder Line, LogLevel Level)> s_nativeLine = new(() => (new StringBuilder(), LogLevel.Debug));

    private static void RouteNativeLogs(ILogger logger)
    {
        s_nativeLogger = logger;
        if (Interlocked.Exchange(ref s_nativeLogsRouted, 1) == 0)
        {
            NativeLogConfig.llama_log_set(WriteNativeLog);
        }
    }

    private static void WriteNativeLog(LLamaLogLevel level, string message)
    {
        try
        {
            // llama.cpp writes a line in fragments; "Continue" carries on the previous fragment's level.
            var (line, lineLevel) = s_nativeLine.Value;
            if (line.Length == 0 || level != LLamaLogLevel.Continue)
            {
                lineLevel = level switch
                {
                    LLamaLogLevel.Error => LogLevel.Error,
                    LLamaLogLevel.Warning => LogLevel.Warning,
                    LLamaLogLevel.Continue => lineLevel,
                    _ => LogLevel.Debug,
                };
                s_nativeLine.Value = (line, lineLevel);
            }
            if (lineLevel > LogLevel.Debug && DecodeAbort.AbortedRecentlyOnThisThread)
            {
                // A cancelled request's decode reports its abort as a failure; it is the cancel working.
                lineLevel = LogLevel.Debug;
            }
            line.Append(message);
            if (!message.EndsWith('\n'))
            {
                return;
            }
            var text = line.ToString().TrimEnd();
            line.Clear();
            if (s_nativeLogger is { } target && target.IsEnabled(lineLevel) && text.Length > 0)
            {
                target.Log(lineLevel, "{Message}", text);
            }
        }
        catch (Exception)
        {
            // An exception must not unwind into llama.cpp; a lost log line is the lesser harm.
        }
    }

    private sealed class HostLease(EmbeddedModelHost host) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            host.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
