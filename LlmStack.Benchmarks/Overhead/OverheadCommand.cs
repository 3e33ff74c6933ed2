using System.CommandLine;
using LlmStack.Benchmarks.Hosting;
using LlmStack.Benchmarks.Load;

namespace LlmStack.Benchmarks.Overhead;

/// <summary>
/// <c>overhead</c>: the API's added cost, twice: on a Qwen2.5-shaped model (what users feel, as a ratio) and on
/// a tiny scripted model whose inference is near-free (what the HTTP, SSE and metrics layers cost, in microseconds).
/// </summary>
internal static class OverheadCommand
{
    public static Command Create()
    {
        var runs = BenchOptions.Positive(new("--runs") { Description = "Paired runs on the Qwen2.5-shaped model (API and direct alternate).", DefaultValueFactory = _ => 7 });
        var scriptedRuns = BenchOptions.Positive(new("--scripted-runs") { Description = "Paired runs on the scripted model (milliseconds each).", DefaultValueFactory = _ => 60 });
        var scriptedTokens = BenchOptions.Positive(new("--scripted-tokens") { Description = "max_tokens on the scripted model.", DefaultValueFactory = _ => 200 });
        var command = new Command("overhead", "Compare LlmStack.Api over HTTP with the embedded backend's chat client called in-process, on the same model and requests.")
        {
            BenchOptions.Shape, BenchOptions.ModelsDir, runs, scriptedRuns, scriptedTokens, BenchOptions.MaxTokens, BenchOptions.PromptWords,
            BenchOptions.Threads, BenchOptions.BatchSize, BenchOptions.Json,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var models = new BenchModels(parse.GetValue(BenchOptions.ModelsDir)!);
            var shape = parse.GetValue(BenchOptions.Shape)!;
            var tuning = BenchOptions.Tuning(parse) with { ParallelSlots = 1 };
            var count = parse.GetValue(runs);

            var shaped = await GatewayOverhead.MeasureAsync($"qwen2.5-{shape}-shaped", models.Random(shape),
                BenchOptions.Workload(parse, $"qwen2.5-{shape}-shaped"), count, tuning, cancellationToken);
            GatewayOverhead.Write(Console.Out, shaped);

            var scripted = await GatewayOverhead.MeasureAsync("scripted (near-free inference)", models.Scripted(),
                new Workload("scripted", PromptWords: 16, MaxTokens: parse.GetValue(scriptedTokens)), parse.GetValue(scriptedRuns), new EmbeddedTuning(ParallelSlots: 1), cancellationToken);
            GatewayOverhead.Write(Console.Out, scripted);

            await new BenchmarkReport { Command = "overhead", Overhead = [shaped, scripted] }.WriteAsync(parse.GetValue(BenchOptions.Json), cancellationToken);
        });
        return command;
    }
}
