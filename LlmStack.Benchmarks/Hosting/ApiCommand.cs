using System.CommandLine;
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
            BenchOptions.Shape, BenchOptions.ModelsDir, BenchOptions.Threads, BenchOptions.BatchSize, BenchOptions.ParallelSlots,
            BenchOptions.Concurrency, BenchOptions.Requests, BenchOptions.Duration, BenchOptions.MaxTokens,
            BenchOptions.PromptWords, BenchOptions.RequestTimeout, BenchOptions.Json,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var shape = parse.GetValue(BenchOptions.Shape)!;
            var modelId = $"qwen2.5-{shape}-shaped";
            var path = new BenchModels(parse.GetValue(BenchOptions.ModelsDir)!).Random(shape);
            var tuning = BenchOptions.Tuning(parse);
            await using var api = await ApiProcess.StartAsync(modelId, path, tuning, cancellationToken);
            Console.WriteLine($"LlmStack.Api serves {Path.GetFileName(path)} at {api.BaseAddress} ({tuning})");

            var workload = BenchOptions.Workload(parse, modelId);
            var levels = await LoadCommand.RunAsync(api.BaseAddress, workload, BenchOptions.Limits(parse),
                TimeSpan.FromSeconds(parse.GetValue(BenchOptions.RequestTimeout)), cancellationToken);
            await new BenchmarkReport { Command = "api", Target = $"LlmStack.Api, {modelId} ({tuning})", Workload = workload, Levels = levels }
                .WriteAsync(parse.GetValue(BenchOptions.Json), cancellationToken);
            return levels.Any(level => level.Errors > 0) ? 1 : 0;
        });
        return command;
    }
}
