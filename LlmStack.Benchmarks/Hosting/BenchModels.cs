using System.Diagnostics;
using LlmStack.Gguf;

namespace LlmStack.Benchmarks.Hosting;

/// <summary>
/// The GGUF files a benchmark serves, written once and kept in a cache folder between runs (the 0.5B shape takes
/// ~7.5 s to write, 1.5B about three times that). Random weights with Qwen2.5's real shapes cost what the real
/// models cost per token; the scripted model is near-free inference, to isolate the cost of everything else.
/// </summary>
public sealed class BenchModels(DirectoryInfo folder)
{
    /// <summary>Names accepted by <c>--shape</c>.</summary>
    public static IReadOnlyDictionary<string, ModelShape> Shapes { get; } = new Dictionary<string, ModelShape>(StringComparer.OrdinalIgnoreCase)
    {
        ["0.5b"] = ModelShape.Qwen25_0_5B,
        ["1.5b"] = ModelShape.Qwen25_1_5B,
        ["3b"] = ModelShape.Qwen25_3B,
        ["7b"] = ModelShape.Qwen25_7B,
    };

    /// <summary>What the scripted model repeats; each word is one token, so chunks and tokens match one to one.</summary>
    public const string ScriptedReply = "All work and no play makes a dull model. ";

    public static DirectoryInfo DefaultFolder => new(Path.Combine(Path.GetTempPath(), "llmstack-bench-models"));

    // Bump when the generators change what they write, so a stale cached file is not measured.
    private const int FormatVersion = 1;

    /// <summary>Random weights of Qwen2.5 <paramref name="shape"/> (e.g. "0.5b") as Q8_0, end-of-turn suppressed so every reply runs to max_tokens.</summary>
    public string Random(string shape) =>
        GetOrWrite($"qwen2.5-{shape.ToLowerInvariant()}-random-q8_0.v{FormatVersion}.gguf", path =>
            RandomModel.Write(path, new RandomModelSpec
            {
                Shape = Shapes[shape], MatrixType = GgmlType.Q8_0, SuppressEndOfTurn = true, Name = $"qwen2.5-{shape}-shaped",
            }));

    /// <summary>A tiny looping scripted model: real llama.cpp calls at microseconds per token, an endless reply.</summary>
    public string Scripted() =>
        GetOrWrite($"scripted-loop.v{FormatVersion}.gguf", path =>
            ScriptedModel.Write(path, new ScriptedModelSpec(ScriptedReply) { Loop = true }));

    private string GetOrWrite(string fileName, Action<string> write)
    {
        folder.Create();
        var path = Path.Combine(folder.FullName, fileName);
        if (File.Exists(path))
        {
            return path;
        }
        Console.Write($"Writing {path} ... ");
        var clock = Stopwatch.StartNew();
        // Written under a temporary name, so an interrupted run never leaves a truncated file in the cache.
        var partial = path + $".{Environment.ProcessId}.partial";
        try
        {
            write(partial);
            File.Move(partial, path, overwrite: true);
        }
        finally
        {
            File.Delete(partial);
        }
        Console.WriteLine($"{new FileInfo(path).Length / 1e6:F0} MB in {clock.Elapsed.TotalSeconds:F1} s");
        return path;
    }
}
