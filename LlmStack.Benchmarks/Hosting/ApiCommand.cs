using System.CommandLine;
using System.Globalization;
using LlmStack.Benchmarks.Load;

namespace LlmStack.Benchmarks.Hosting;

/// <summary>
/// <c>api</c>: needs nothing else. Writes (or reuses) a random-weight model of a Qwen2.5 shape, starts
/// LlmStack.Api serving it on the embedded backend, and runs the concurrency sweep against it.
/// </summary>
internal static class ApiCommand
{
    public static Command Create()
    {
        var command = new Command("api", "Generate a Qwen2.5-shaped model, serve it with LlmStack.Api (a child process) and sweep concurrency levels against it.")
        {
            BenchOptions.Shape, BenchOptions.ModelsDir, BenchOptions.Threads, BenchOptions.BatchSize, BenchOptions.StepTokens, BenchOptions.ParallelSlots, BenchOptions.LlamaCpp,
            Raw, BenchOptions.Concurrency, BenchOptions.Requests, BenchOptions.Duration, BenchOptions.MaxTokens,
            BenchOptions.PromptWords, BenchOptions.RequestTimeout, BenchOptions.Json,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var shape = parse.GetValue(BenchOptions.Shape)!;
            var modelId = $"qwen2.5-{shape}-shaped";
            var path = new BenchModels(parse.GetValue(BenchOptions.ModelsDir)!).Random(shape);
            var tuning = BenchOptions.Tuning(parse);
            var workload = BenchOptions.Workload(parse, modelId);
            IReadOnlyList<LevelSummary> levels;
            await using (var api = await ApiProcess.StartAsync(modelId, path, tuning, cancellationToken))
            {
                Console.WriteLine($"LlmStack.Api serves {Path.GetFileName(path)} at {api.BaseAddress} ({tuning})");
                levels = await LoadCommand.RunAsync(api.BaseAddress, workload, BenchOptions.Limits(parse),
                    TimeSpan.FromSeconds(parse.GetValue(BenchOptions.RequestTimeout)), cancellationToken);
            }
            if (parse.GetValue(Raw))
            {
                // After the API has stopped: the two never share the cores.
                WriteRawComparison(path, levels, workload, tuning.Threads ?? Environment.ProcessorCount);
            }
            await new BenchmarkReport { Command = "api", Target = $"LlmStack.Api, {modelId} ({tuning})", Workload = workload, Levels = levels }
                .WriteAsync(parse.GetValue(BenchOptions.Json), cancellationToken);
            return levels.Any(level => level.Errors > 0) ? 1 : 0;
        });
        return command;
    }

    private static readonly Option<bool> Raw = new("--raw")
    {
        Description = "After the sweep, measure llama.cpp's own batched decode on the same file at each concurrency (true by default).",
        DefaultValueFactory = _ => true,
    };

    private static void WriteRawComparison(string path, IReadOnlyList<LevelSummary> levels, Workload workload, int threads)
    {
        Console.WriteLine($"Raw llama.cpp on the same file ({threads} thread(s), B sequences in one context, no API, no HTTP) beside the API:");
        Console.WriteLine("    B  API tok/s all  raw with prompts  API/raw   API decode B/ITL p50  raw decode only  API/raw");
        foreach (var level in levels)
        {
            var promptTokens = (int)(level.PromptTokensP50 ?? 64);
            var (decodeOnly, withPrompts) = RawBatchedDecode.Measure(path, level.Concurrency, promptTokens, workload.MaxTokens, threads);
            var apiDecode = level.ItlP50Ms is > 0 ? level.Concurrency * 1000 / level.ItlP50Ms.Value : (double?)null;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{level.Concurrency,5} {level.AggregateTokensPerSecond,14:F1} {withPrompts,17:F1} {level.AggregateTokensPerSecond / withPrompts,8:F2}   {apiDecode,20:F1} {decodeOnly,16:F1} {apiDecode / decodeOnly,8:F2}"));
        }
    }
}
