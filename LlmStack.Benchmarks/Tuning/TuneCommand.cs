using System.CommandLine;
using System.Globalization;
using LlmStack.Benchmarks.Hosting;
using LlmStack.Benchmarks.Load;

namespace LlmStack.Benchmarks.Tuning;

/// <summary>
/// <c>tune</c>: the embedded backend's Threads and BatchSize on this machine for a Qwen2.5 shape (prefill and
/// decode speed of one stream), then ParallelSlots under concurrent load with the fastest of those. In-process:
/// the settings' effect on llama.cpp, without HTTP in the way.
/// </summary>
internal static class TuneCommand
{
    public static Command Create()
    {
        var threads = BenchOptions.AllPositive(new("--threads")
        {
            Description = "Thread counts to try.", AllowMultipleArgumentsPerToken = true,
            DefaultValueFactory = _ => Environment.ProcessorCount > 1 ? [1, Environment.ProcessorCount] : [1],
        });
        var batchSizes = BenchOptions.AllPositive(new("--batch-sizes")
        {
            Description = "Batch sizes to try.", AllowMultipleArgumentsPerToken = true, DefaultValueFactory = _ => [64, 256, 512],
        });
        var slots = BenchOptions.AllPositive(new("--parallel-slots")
        {
            Description = "ParallelSlots to try under --slot-load concurrent requests.", AllowMultipleArgumentsPerToken = true,
            DefaultValueFactory = _ => [1, 2, 4],
        });
        var slotLoad = BenchOptions.Positive(new("--slot-load") { Description = "Concurrent requests for the ParallelSlots runs.", DefaultValueFactory = _ => 4 });
        var runs = BenchOptions.Positive(new("--runs") { Description = "Measured requests per configuration.", DefaultValueFactory = _ => 2 });
        var command = new Command("tune", "Measure the embedded backend's Threads, BatchSize and ParallelSlots on this machine for a Qwen2.5 shape.")
        {
            BenchOptions.Shape, BenchOptions.ModelsDir, threads, batchSizes, slots, slotLoad, runs, BenchOptions.MaxTokens, BenchOptions.PromptWords, BenchOptions.Json,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var shape = parse.GetValue(BenchOptions.Shape)!;
            var path = new BenchModels(parse.GetValue(BenchOptions.ModelsDir)!).Random(shape);
            var workload = BenchOptions.Workload(parse, $"qwen2.5-{shape}-shaped");
            var count = parse.GetValue(runs);
            var results = new List<TuningResult>();

            Console.WriteLine($"{workload.Model}, one stream: prompt ~{workload.PromptWords} words, max_tokens {workload.MaxTokens}, {count} runs each (medians)");
            Console.WriteLine($"{"threads",7} {"batch",6} {"prompt",7} {"TTFT",9} {"prefill tok/s",14} {"decode tok/s",13}");
            foreach (var threadCount in parse.GetValue(threads)!)
            {
                foreach (var batch in parse.GetValue(batchSizes)!)
                {
                    var result = await MeasureAsync(path, workload, new EmbeddedTuning(threadCount, batch, 1), concurrency: 1, count, cancellationToken);
                    results.Add(result);
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"{result.Threads,7} {result.BatchSize,6} {result.PromptTokens,7} {SweepTable.Ms(result.TtftMs),9} {result.PrefillTokensPerSecond,14:F1} {result.DecodeTokensPerSecond,13:F1}"));
                }
            }

            var best = results.MinBy(r => (r.TtftMs ?? 0) + workload.MaxTokens * 1000 / (r.DecodeTokensPerSecond ?? 1))!;
            var load = parse.GetValue(slotLoad);
            Console.WriteLine($"ParallelSlots with {load} concurrent requests, threads {best.Threads}, batch {best.BatchSize}:");
            Console.WriteLine($"{"slots",7} {"TTFT p50",9} {"decode tok/s/stream",20} {"tok/s all",10}");
            foreach (var slotCount in parse.GetValue(slots)!)
            {
                var result = await MeasureAsync(path, workload, new EmbeddedTuning(best.Threads, best.BatchSize, slotCount), load, load, cancellationToken);
                results.Add(result);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{result.ParallelSlots,7} {SweepTable.Ms(result.TtftMs),9} {result.DecodeTokensPerSecond,20:F1} {result.AggregateTokensPerSecond,10:F1}"));
            }
            await new BenchmarkReport { Command = "tune", Target = path, Workload = workload, Tuning = results }.WriteAsync(parse.GetValue(BenchOptions.Json), cancellationToken);
        });
        return command;
    }

    private static async Task<TuningResult> MeasureAsync(string path, Workload workload, EmbeddedTuning tuning, int concurrency, int requests, CancellationToken cancellationToken)
    {
        await using var served = await InProcessModel.ServeAsync(tuning.ModelOptions(workload.Model, path));
        var client = served.ChatClient;
        var warmup = await InProcessChat.SendAsync(client, workload with { PromptWords = 8, MaxTokens = 4 }, 0, cancellationToken);
        if (!warmup.Succeeded)
        {
            throw new BenchmarkException($"The warm-up request failed ({tuning}): {warmup.Error}");
        }
        var levels = await LoadSweep.RunAsync(new SweepLimits([concurrency], requests, TimeSpan.FromMinutes(10)),
            (n, ct) => InProcessChat.SendAsync(client, workload, n, ct), onLevel: null, cancellationToken);
        var level = levels[0];
        if (level.FirstError is { } error)
        {
            throw new BenchmarkException($"A measured request failed ({tuning}): {error}");
        }
        return new TuningResult
        {
            Threads = tuning.Threads!.Value,
            BatchSize = tuning.BatchSize!.Value,
            ParallelSlots = tuning.ParallelSlots!.Value,
            Concurrency = concurrency,
            PromptTokens = (int?)level.PromptTokensP50,
            TtftMs = level.TtftP50Ms,
            PrefillTokensPerSecond = level.PromptTokensP50 / (level.TtftP50Ms / 1000),
            DecodeTokensPerSecond = level.PerStreamTokensPerSecond,
            AggregateTokensPerSecond = level.AggregateTokensPerSecond,
        };
    }
}
