using System.CommandLine;

namespace LlmStack.Benchmarks.Load;

/// <summary><c>load</c>: a concurrency sweep against any OpenAI-compatible server on this machine.</summary>
internal static class LoadCommand
{
    public static Command Create()
    {
        var url = BenchOptions.LoopbackUrl("--url", "Root of the OpenAI-compatible server (its /v1/chat/completions is called), e.g. http://127.0.0.1:5080/.");
        var model = new Option<string>("--model") { Description = "The model id to send.", Required = true };
        var command = new Command("load", "Sweep concurrency levels against an OpenAI-compatible server on this machine (LlmStack.Api, Ollama, vLLM...).")
        {
            url, model, BenchOptions.Concurrency, BenchOptions.Requests, BenchOptions.Duration, BenchOptions.MaxTokens,
            BenchOptions.PromptWords, BenchOptions.RequestTimeout, BenchOptions.Json,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var root = parse.GetValue(url)!;
            var workload = BenchOptions.Workload(parse, parse.GetValue(model)!);
            var levels = await RunAsync(root, workload, BenchOptions.Limits(parse), TimeSpan.FromSeconds(parse.GetValue(BenchOptions.RequestTimeout)), cancellationToken);
            await new BenchmarkReport { Command = "load", Target = root.ToString(), Workload = workload, Levels = levels }
                .WriteAsync(parse.GetValue(BenchOptions.Json), cancellationToken);
            return levels.Any(level => level.Errors == level.Requests) ? 1 : 0;
        });
        return command;
    }

    /// <summary>Warms the server up with one request, then runs the sweep, printing each level as it completes.</summary>
    public static async Task<IReadOnlyList<LevelSummary>> RunAsync(Uri root, Workload workload, SweepLimits limits, TimeSpan requestTimeout, CancellationToken cancellationToken)
    {
        using var http = new HttpClient
        {
            BaseAddress = new Uri(root.ToString().TrimEnd('/') + "/"),
            Timeout = requestTimeout,
        };
        var client = new ChatStreamClient(http);
        Console.WriteLine($"Target {http.BaseAddress}  model {workload.Model}  prompt ~{workload.PromptWords} words  max_tokens {workload.MaxTokens}  greedy, seed {workload.Seed}");
        var warmup = await client.SendAsync(workload.Request(0), cancellationToken);
        if (!warmup.Succeeded)
        {
            Console.WriteLine($"Warm-up request failed: {warmup.Error}");
        }
        SweepTable.WriteHeader(Console.Out);
        return await LoadSweep.RunAsync(limits, (n, ct) => client.SendAsync(workload.Request(n), ct), level => SweepTable.WriteRow(Console.Out, level), cancellationToken);
    }
}
