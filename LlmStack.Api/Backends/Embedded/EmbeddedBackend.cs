using System.Text;
using LLama.Native;
using LlmStack.Api.Backends;
using LlmStack.Api.Configuration;
using LlmStack.Api.Models;
using LlmStack.Api.Pipeline;
using LlmStack.Api.Telemetry;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace LlmStack.Api.Backends.Embedded;

/// <summary>
/// <c>embedded</c>: a GGUF file run in-process by llama.cpp (LLamaSharp's CPU backend), so the stack serves
/// a model with no Docker and no Ollama. Its tuning is the model's
/// <c>Embedded</c> section (<see cref="EmbeddedModelOptions"/>, where every default is written).
/// </summary>
internal sealed class EmbeddedBackend : IModelBackend
{
    public const string BackendName = "embedded";

    private static readonly byte[] GgufMagic = "GGUF"u8.ToArray();

    private readonly LlmStackMetrics? _metrics;
    private readonly ILoggerFactory _loggerFactory;

    public EmbeddedBackend(ILoggerFactory loggerFactory, LlmStackMetrics? metrics = null)
    {
        _metrics = metrics;
        _loggerFactory = loggerFactory;
        RouteNativeLogs(loggerFactory.CreateLogger("LLama.Native"));
    }

    public string Name => BackendName;

    public IEnumerable<string> Validate(ModelOptions options, string keyPrefix)
    {
        if (string.IsNullOrWhiteSpace(options.Path))
        {
            yield return $"{keyPrefix}:Path is required for the embedded backend: the GGUF file to run.";
        }
        else if (ReadMagic(options.Path) is { } problem)
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
        if (options.GpuLayers < 0)
        {
            yield return $"{key}:GpuLayers {options.GpuLayers} must be 0 or more.";
        }
    }

    public Task<ServedModel> CreateAsync(ModelOptions options, CancellationToken cancellationToken) =>
        Task.FromResult(Serve(options, isDemo: false));

    internal ServedModel Serve(ModelOptions options, bool isDemo)
    {
        var host = EmbeddedModelHost.Load(options, _metrics, _loggerFactory.CreateLogger<EmbeddedBackend>());
        return new ServedModel
        {
            Id = options.Id,
            Backend = BackendName,
            ChatClient = new EmbeddedChatClient(host),
            EmbeddingGenerator = new EmbeddedEmbeddingGenerator(host),
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
