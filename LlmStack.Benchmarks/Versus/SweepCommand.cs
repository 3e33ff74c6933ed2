using System.CommandLine;
using System.Globalization;
using LlmStack.Benchmarks.Hosting;
using LlmStack.Benchmarks.Load;

namespace LlmStack.Benchmarks.Versus;

/// <summary>
/// <c>sweep</c>: the embedded engine's BatchSize, then StepTokens, TargetTokenGap and ParallelSlots, measured through
/// LlmStack.Api (a process per setting, every request on its own connection) on a generated Qwen2.5-shaped model:
/// prompt processing speed per BatchSize, then concurrent streams (aggregate speed, inter-token p95, TTFT p50) per
/// combination of the others, with the fastest BatchSize. What the defaults are chosen from.
/// </summary>
internal static class SweepCommand
{
    public static Command Create()
    {
        var batchSizes = BenchOptions.AllPositive(new("--batch-sizes") { Description = "BatchSize values.", AllowMultipleArgumentsPerToken = true, DefaultValueFactory = _ => [128, 256, 512] });
        var stepTokens = BenchOptions.AllPositive(new("--step-tokens-values") { Description = "StepTokens values.", AllowMultipleArgumentsPerToken = true, DefaultValueFactory = _ => [32, 512] });
        var gaps = new Option<int[]>("--target-gaps-ms")
        {
            Description = "TargetTokenGap values in milliseconds (0: fixed StepTokens steps).", AllowMultipleArgumentsPerToken = true, DefaultValueFactory = _ => [0, 100, 200],
        };
        gaps.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int[]>() is not { Length: > 0 } values || values.Any(v => v < 0))
            {
                result.AddError("--target-gaps-ms takes one or more values of at least 0.");
            }
        });
        var slots = BenchOptions.AllPositive(new("--parallel-slots-values") { Description = "ParallelSlots values.", AllowMultipleArgumentsPerToken = true, DefaultValueFactory = _ => [8, 16] });
        var prefill = BenchOptions.AllPositive(new("--prefill-tokens") { Description = "Prompt lengths of the BatchSize runs.", AllowMultipleArgumentsPerToken = true, DefaultValueFactory = _ => [512, 2000] });
        var reps = BenchOptions.Positive(new("--reps") { Description = "Requests per prompt length (median).", DefaultValueFactory = _ => 2 });
        var streams = BenchOptions.Positive(new("--streams") { Description = "Concurrent streams of the other runs.", DefaultValueFactory = _ => 8 });
        var requests = BenchOptions.Positive(new("--requests") { Description = "Requests per run of concurrent streams.", DefaultValueFactory = _ => 24 });
        var command = new Command("sweep", "Measure BatchSize, then StepTokens x TargetTokenGap x ParallelSlots, through LlmStack.Api on a Qwen2.5-shaped model.")
        {
            BenchOptions.Shape, BenchOptions.ModelsDir, BenchOptions.Threads, BenchOptions.LlamaCpp, batchSizes, stepTokens, gaps, slots, prefill, reps, streams, requests,
            BenchOptions.MaxTokens, BenchOptions.PromptWords, BenchOptions.RequestTimeout,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var shape = parse.GetValue(BenchOptions.Shape)!;
            var modelId = $"qwen2.5-{shape}-shaped";
            var path = new BenchModels(parse.GetValue(BenchOptions.ModelsDir)!).Random(shape);
            var threads = parse.GetValue(BenchOptions.Threads);
            var llamaCpp = parse.GetValue(BenchOptions.LlamaCpp)?.FullName;
            var timeout = TimeSpan.FromSeconds(parse.GetValue(BenchOptions.RequestTimeout));
            var lengths = parse.GetValue(prefill)!;

            Console.WriteLine($"{modelId}, threads {threads?.ToString(CultureInfo.InvariantCulture) ?? "default"}, {(llamaCpp is null ? "LLamaSharp's llama.cpp" : $"llama.cpp from {llamaCpp}")}: prompt tok/s (median of {parse.GetValue(reps)}) by BatchSize");
            Console.WriteLine("| BatchSize | " + string.Join(" | ", lengths.Select(l => $"{l} tokens")) + " |");
            Console.WriteLine("|---|" + string.Concat(lengths.Select(_ => "---|")));
            var best = (Batch: 0, Speed: 0.0);
            foreach (var batch in parse.GetValue(batchSizes)!)
            {
                var speeds = await WithApiAsync(modelId, path, new EmbeddedTuning(threads, batch, LlamaCppLibraries: llamaCpp), timeout, async target =>
                {
                    var result = new List<double>();
                    foreach (var tokens in lengths)
                    {
                        var words = await ServerWorkloads.WordsForTokensAsync(target, tokens, cancellationToken);
                        var samples = new List<double>();
                        for (var i = 0; i < parse.GetValue(reps); i++)
                        {
                            var sample = await ServerWorkloads.PrefillAsync(target, words, cancellationToken);
                            samples.Add(sample.PromptTokens!.Value / (sample.TimeToFirstTokenMs!.Value / 1000));
                        }
                        result.Add(Percentiles.Median(samples)!.Value);
                    }
                    return result;
                }, cancellationToken);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {batch} | {string.Join(" | ", speeds.Select(s => s.ToString("F1", CultureInfo.InvariantCulture)))} |"));
                if (speeds.Average() > best.Speed)
                {
                    best = (batch, speeds.Average());
                }
            }

            var n = parse.GetValue(streams);
            Console.WriteLine($"{n} concurrent streams, {parse.GetValue(requests)} requests of ~{parse.GetValue(BenchOptions.PromptWords)} words and max_tokens {parse.GetValue(BenchOptions.MaxTokens)}, BatchSize {best.Batch}:");
            Console.WriteLine("| ParallelSlots | StepTokens | TargetTokenGap | aggregate tok/s | inter-token p95 | inter-token p50 | TTFT p50 | TTFT p95 |");
            Console.WriteLine("|---|---|---|---|---|---|---|---|");
            foreach (var slotCount in parse.GetValue(slots)!)
            {
                foreach (var step in parse.GetValue(stepTokens)!)
                {
                    foreach (var gap in parse.GetValue(gaps)!)
                    {
                        var tuning = new EmbeddedTuning(threads, best.Batch, slotCount, step, TimeSpan.FromMilliseconds(gap), LlamaCppLibraries: llamaCpp);
                        var level = await WithApiAsync(modelId, path, tuning, timeout, target => ServerWorkloads.ConcurrentAsync(target, n, parse.GetValue(requests),
                            parse.GetValue(BenchOptions.PromptWords), parse.GetValue(BenchOptions.MaxTokens), cancellationToken), cancellationToken);
                        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                            $"| {slotCount} | {step} | {gap} ms | {level.AggregateTokensPerSecond:F1} | {SweepTable.Ms(level.ItlP95Ms)} | {SweepTable.Ms(level.ItlP50Ms)} | {SweepTable.Ms(level.TtftP50Ms)} | {SweepTable.Ms(level.TtftP95Ms)} |"));
                    }
                }
            }
            await new BenchmarkReport { Command = "sweep", Target = path }.WriteAsync(null, cancellationToken);
            return 0;
        });
        return command;
    }

    // One API process per setting, warmed up with a short request; every request on its own connection.
    private static async Task<T> WithApiAsync<T>(string modelId, string path, EmbeddedTuning tuning, TimeSpan timeout, Func<Target, Task<T>> measure, CancellationToken cancellationToken)
    {
        await using var api = await ApiProcess.StartAsync(modelId, path, tuning, cancellationToken);
        using var http = new HttpClient { BaseAddress = api.BaseAddress, Timeout = timeout };
        var target = new Target("LlmStack", new ChatStreamClient(http, newConnectionPerRequest: true), modelId);
        await ServerWorkloads.DecodeAsync(target, 4, cancellationToken);
        return await measure(target);
    }
}
