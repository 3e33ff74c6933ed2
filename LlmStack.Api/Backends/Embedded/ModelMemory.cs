using System.Globalization;
using LlmStack.Api.Configuration;
using LlmStack.Gguf;

namespace LlmStack.Api.Backends.Embedded;

/// <summary>How much memory the machine (or the container's cgroup) has available for a model now.</summary>
/// <param name="AvailableBytes">What can be allocated without swapping or the OOM killer.</param>
/// <param name="Source">Where the figure comes from, for the message (e.g. "MemAvailable of /proc/meminfo").</param>
internal sealed record MemoryAvailability(long AvailableBytes, string Source);

/// <summary>Tells <see cref="MemoryAvailability"/>; replaced in tests.</summary>
internal interface IMachineMemory
{
    MemoryAvailability? Read();
}

/// <summary>
/// This machine: on Linux the smaller of the kernel's <c>MemAvailable</c> and what the process's cgroup still
/// allows (a container's memory limit, v2 or v1); elsewhere what the runtime reports as available.
/// </summary>
internal sealed class MachineMemory : IMachineMemory
{
    public MemoryAvailability? Read()
    {
        if (!OperatingSystem.IsLinux())
        {
            var info = GC.GetGCMemoryInfo();
            return new MemoryAvailability(info.TotalAvailableMemoryBytes - info.MemoryLoadBytes, "the runtime's memory load");
        }
        MemoryAvailability? best = MemInfo() is { } available ? new(available, "MemAvailable of /proc/meminfo") : null;
        if (CgroupRoom() is { } room && (best is null || room.AvailableBytes < best.AvailableBytes))
        {
            best = room;
        }
        return best;
    }

    private static long? MemInfo()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/meminfo"))
            {
                if (line.StartsWith("MemAvailable:", StringComparison.Ordinal))
                {
                    var kb = line["MemAvailable:".Length..].Trim().Split(' ')[0];
                    return long.Parse(kb, CultureInfo.InvariantCulture) * 1024;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
        {
        }
        return null;
    }

    private static MemoryAvailability? CgroupRoom()
    {
        // v2 (unified), then v1's memory controller.
        foreach (var (limitFile, usageFile) in new[]
        {
            ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
            ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
        })
        {
            try
            {
                if (!File.Exists(limitFile))
                {
                    continue;
                }
                var limitText = File.ReadAllText(limitFile).Trim();
                // "max" (v2) or a huge number (v1's unlimited): no limit of its own.
                if (!long.TryParse(limitText, CultureInfo.InvariantCulture, out var limit) || limit >= long.MaxValue / 2)
                {
                    return null;
                }
                var usage = long.TryParse(File.ReadAllText(usageFile).Trim(), CultureInfo.InvariantCulture, out var used) ? used : 0;
                return new MemoryAvailability(Math.Max(0, limit - usage),
                    $"the container's memory limit of {Hub.ModelDownloadProgress.FormatBytes(limit)} ({Hub.ModelDownloadProgress.FormatBytes(usage)} in use)");
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
            }
        }
        return null;
    }
}

/// <summary>
/// The memory an embedded model will take once loaded - its weights (LLamaSharp reads the whole file), its KV
/// cache (every slot's sequences share <c>KvCacheSize</c> tokens, F16 keys and values for every layer) and llama.cpp's
/// compute buffers - checked against what the machine has before anything is allocated, so that a model too large
/// is refused with the numbers instead of the process being killed by the OOM killer halfway through loading.
/// </summary>
internal static class ModelMemory
{
    /// <summary>The runtime, llama.cpp's own allocations and the API around them, beyond the buffers counted.</summary>
    private const long Overhead = 256L << 20;

    /// <summary>Bytes per KV cache element (llama.cpp's default cache type is F16).</summary>
    private const int KvElementBytes = 2;

    public sealed record Estimate(long WeightBytes, long KvCacheBytes, int KvCacheTokens, long ComputeBytes)
    {
        public long TotalBytes => WeightBytes + KvCacheBytes + ComputeBytes + Overhead;
    }

    /// <summary>What <paramref name="path"/> will need with <paramref name="options"/>' settings; null when its header cannot tell.</summary>
    public static Estimate? For(string path, ModelOptions options)
    {
        GgufMetadata metadata;
        try
        {
            metadata = GgufMetadata.Read(path);
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException or OverflowException)
        {
            return null;
        }
        var layers = metadata.ArchitectureInteger("block_count");
        var embedding = metadata.ArchitectureInteger("embedding_length");
        var heads = metadata.ArchitectureInteger("attention.head_count");
        if (layers is not > 0 || embedding is not > 0 || heads is not > 0)
        {
            return null;
        }
        var kvHeads = metadata.ArchitectureInteger("attention.head_count_kv") ?? heads.Value;
        var keyLength = metadata.ArchitectureInteger("attention.key_length") ?? embedding.Value / heads.Value;
        var valueLength = metadata.ArchitectureInteger("attention.value_length") ?? embedding.Value / heads.Value;
        var context = (int)Math.Min(int.MaxValue, metadata.ArchitectureInteger("context_length") ?? EmbeddedModelOptions.DefaultMaxContextSize);
        var settings = EmbeddedModelHost.SettingsFor(options, context);
        var kv = (long)settings.KvCacheTokens * layers.Value * kvHeads * (keyLength + valueLength) * KvElementBytes;
        var vocabulary = metadata.ArchitectureInteger("vocab_size") ?? metadata.ArrayLength("tokenizer.ggml.tokens") ?? 0;
        var feedForward = metadata.ArchitectureInteger("feed_forward_length") ?? 4 * embedding.Value;
        // Logits and the widest activations of one decode, in F32.
        var compute = (long)settings.MaxDecodeTokens * (vocabulary + 4 * Math.Max(feedForward, embedding.Value)) * sizeof(float);
        return new Estimate(new FileInfo(path).Length, kv, settings.KvCacheTokens, compute);
    }

    /// <summary>Why <paramref name="estimate"/> does not fit <paramref name="available"/>; null when it does.</summary>
    public static string? Refusal(string model, string path, Estimate estimate, MemoryAvailability available)
    {
        if (estimate.TotalBytes <= available.AvailableBytes)
        {
            return null;
        }
        static string Size(long bytes) => Hub.ModelDownloadProgress.FormatBytes(bytes);
        return $"Model '{model}' ({Path.GetFileName(path)}) needs about {Size(estimate.TotalBytes)} of memory - weights {Size(estimate.WeightBytes)}, " +
               $"KV cache {Size(estimate.KvCacheBytes)} for {estimate.KvCacheTokens:N0} tokens, compute buffers and runtime {Size(estimate.ComputeBytes + Overhead)} - " +
               $"but only {Size(available.AvailableBytes)} is available ({available.Source}). It is not loaded, rather than being killed by the OOM killer: " +
               "choose a smaller model or quantization (e.g. Q4_K_M instead of Q8_0), lower KvCacheSize or ParallelSlots, or run it on a machine with more memory (docs/deploy-ec2.md lists sizes by instance type).";
    }
}
