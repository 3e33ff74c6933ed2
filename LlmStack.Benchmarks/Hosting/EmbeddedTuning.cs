using System.Globalization;
using LlmStack.Api.Backends.Embedded;
using LlmStack.Api.Configuration;
using LlmStack.Api.Pipeline;

namespace LlmStack.Benchmarks.Hosting;

/// <summary>
/// The embedded backend's tuning keys a run sets; null leaves the API's default. <paramref name="LlamaCppLibraries"/> is the
/// process's <c>LlmStack:LlamaCppLibraries</c> (a llama.cpp build for this CPU), for the commands that start the API as a process.
/// </summary>
public sealed record EmbeddedTuning(int? Threads = null, int? BatchSize = null, int? ParallelSlots = null, int? StepTokens = null, TimeSpan? TargetTokenGap = null,
    long? HostCacheBytes = null, string? LlamaCppLibraries = null)
{
    /// <summary>The model's options as the API would bind them from <c>LlmStack:Models:0:*</c>.</summary>
    public ModelOptions ModelOptions(string id, string path) => new()
    {
        Id = id, Backend = EmbeddedBackend.BackendName, Path = path,
        Embedded = new EmbeddedModelOptions
        {
            Threads = Threads, BatchSize = BatchSize, ParallelSlots = ParallelSlots, StepTokens = StepTokens, TargetTokenGap = TargetTokenGap, HostCacheBytes = HostCacheBytes,
        },
    };

    /// <summary>The keys under <c>LlmStack:Models:0:</c> that are set (in its <c>Embedded</c> section).</summary>
    public IEnumerable<KeyValuePair<string, string>> Settings()
    {
        if (Threads is { } threads)
        {
            yield return new($"Embedded:{nameof(Threads)}", threads.ToString(CultureInfo.InvariantCulture));
        }
        if (BatchSize is { } batch)
        {
            yield return new($"Embedded:{nameof(BatchSize)}", batch.ToString(CultureInfo.InvariantCulture));
        }
        if (ParallelSlots is { } slots)
        {
            yield return new($"Embedded:{nameof(ParallelSlots)}", slots.ToString(CultureInfo.InvariantCulture));
        }
        if (StepTokens is { } step)
        {
            yield return new($"Embedded:{nameof(StepTokens)}", step.ToString(CultureInfo.InvariantCulture));
        }
        if (TargetTokenGap is { } gap)
        {
            yield return new($"Embedded:{nameof(TargetTokenGap)}", gap.ToString("c", CultureInfo.InvariantCulture));
        }
        if (HostCacheBytes is { } host)
        {
            yield return new($"Embedded:{nameof(HostCacheBytes)}", host.ToString(CultureInfo.InvariantCulture));
        }
    }

    public override string ToString() =>
        (Settings().Any() ? string.Join(", ", Settings().Select(s => $"{s.Key}={s.Value}")) : "default tuning")
        + (LlamaCppLibraries is null ? "; LLamaSharp's llama.cpp" : $"; llama.cpp from {LlamaCppLibraries}");
}
