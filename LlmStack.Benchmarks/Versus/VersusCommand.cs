using System.CommandLine;
using System.Globalization;
using LlmStack.Benchmarks.Hosting;
using LlmStack.Benchmarks.Load;

namespace LlmStack.Benchmarks.Versus;

/// <summary>One figure of a comparison: what LlmStack measured, what the peer measured, and which way is better.</summary>
public sealed record VersusRow(string Workload, string Metric, double? LlmStack, double? Peer, bool HigherIsBetter)
{
    /// <summary>LlmStack over the peer; above 1 is better when <see cref="HigherIsBetter"/>, below 1 otherwise.</summary>
    public double? Ratio => LlmStack is { } ours && Peer is { } theirs && theirs != 0 ? ours / theirs : null;
}

/// <summary>
/// <c>versus</c>: LlmStack.Api (started here, serving a generated Qwen2.5-shaped model) and a peer OpenAI-compatible
/// server on this machine serving the same file (llama-server, Ollama, vLLM), the same workloads alternately in one
/// run: prefill at several prompt lengths, one stream's decode, concurrent streams, conversations taking turns. Every
/// request opens its own connection. Prints the figures side by side with their ratio.
/// </summary>
internal static class VersusCommand
{
    public static Command Create()
    {
        var url = BenchOptions.LoopbackUrl("--url", "Root of the peer OpenAI-compatible server, serving the file this command prints, e.g. http://127.0.0.1:8080/.");
        var peerModel = new Option<string?>("--peer-model") { Description = "The model id to send the peer (default: the one LlmStack serves; llama-server takes any)." };
        var reps = BenchOptions.Positive(new("--reps") { Description = "Requests per prefill length and for decode (medians), alternating the servers.", DefaultValueFactory = _ => 3 });
        var prefill = BenchOptions.AllPositive(new("--prefill-tokens") { Description = "Prompt lengths of the prefill runs.", AllowMultipleArgumentsPerToken = true, DefaultValueFactory = _ => [128, 512, 2000] });
        var decodeTokens = BenchOptions.Positive(new("--decode-tokens") { Description = "max_tokens of the single-stream decode runs.", DefaultValueFactory = _ => 128 });
        var concurrency = BenchOptions.Positive(new("--streams") { Description = "Concurrent streams of the concurrency run.", DefaultValueFactory = _ => 8 });
        var requests = BenchOptions.Positive(new("--requests") { Description = "Requests of the concurrency run (in all).", DefaultValueFactory = _ => 24 });
        var conversations = BenchOptions.Positive(new("--conversations") { Description = "Conversations taking turns.", DefaultValueFactory = _ => 8 });
        var turns = BenchOptions.Positive(new("--turns") { Description = "Turns of each conversation.", DefaultValueFactory = _ => 5 });
        var skip = new Option<string[]>("--skip") { Description = "Workloads left out: prefill, decode, concurrency, conversations.", AllowMultipleArgumentsPerToken = true, DefaultValueFactory = _ => [] };
        skip.AcceptOnlyFromAmong("prefill", "decode", "concurrency", "conversations");
        var command = new Command("versus", "LlmStack.Api and a peer OpenAI-compatible server (llama-server, ...) on the same GGUF, the same workloads alternately, side by side.")
        {
            url, peerModel, BenchOptions.Shape, BenchOptions.ModelsDir, BenchOptions.Threads, BenchOptions.BatchSize, BenchOptions.StepTokens,
            BenchOptions.TargetTokenGapMs, BenchOptions.ParallelSlots, BenchOptions.LlamaCpp, reps, prefill, decodeTokens, concurrency, requests, conversations, turns,
            BenchOptions.MaxTokens, BenchOptions.PromptWords, BenchOptions.RequestTimeout, skip, BenchOptions.Json,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var shape = parse.GetValue(BenchOptions.Shape)!;
            var modelId = $"qwen2.5-{shape}-shaped";
            var path = new BenchModels(parse.GetValue(BenchOptions.ModelsDir)!).Random(shape);
            var tuning = BenchOptions.Tuning(parse);
            var timeout = TimeSpan.FromSeconds(parse.GetValue(BenchOptions.RequestTimeout));
            var skipped = parse.GetValue(skip)!.ToHashSet(StringComparer.Ordinal);
            Console.WriteLine($"The peer must serve {path}, e.g. llama-server -m {path} -t {tuning.Threads ?? Environment.ProcessorCount} -np 8 -c 16384 --kv-unified --port 8080 (one 16,384-token cache all slots share, as LlmStack's)");

            await using var api = await ApiProcess.StartAsync(modelId, path, tuning, cancellationToken);
            using var ourHttp = new HttpClient { BaseAddress = api.BaseAddress, Timeout = timeout };
            using var peerHttp = new HttpClient { BaseAddress = new Uri(parse.GetValue(url)!.ToString().TrimEnd('/') + "/"), Timeout = timeout };
            Target[] targets =
            [
                new("LlmStack", new ChatStreamClient(ourHttp, newConnectionPerRequest: true), modelId),
                new("peer", new ChatStreamClient(peerHttp, newConnectionPerRequest: true), parse.GetValue(peerModel) ?? modelId),
            ];
            Console.WriteLine($"LlmStack.Api at {api.BaseAddress} ({tuning}); peer at {peerHttp.BaseAddress}");
            foreach (var target in targets)
            {
                await ServerWorkloads.DecodeAsync(target, 4, cancellationToken); // warm-up, and the peer answers at all
            }

            var rows = new List<VersusRow>();
            void Add(VersusRow row)
            {
                rows.Add(row);
                Console.WriteLine(Format(row));
            }
            Console.WriteLine(Header);
            var count = parse.GetValue(reps);
            if (!skipped.Contains("prefill"))
            {
                foreach (var tokens in parse.GetValue(prefill)!)
                {
                    // Both servers read the same file, so one tokenizer: LlmStack's count sizes the prompt for both.
                    var words = await ServerWorkloads.WordsForTokensAsync(targets[0], tokens, cancellationToken);
                    var speeds = await AlternateAsync(targets, count, async target =>
                    {
                        var sample = await ServerWorkloads.PrefillAsync(target, words, cancellationToken);
                        return sample.PromptTokens!.Value / (sample.TimeToFirstTokenMs!.Value / 1000);
                    });
                    Add(new VersusRow($"prefill {tokens} tokens", "prompt tok/s (TTFT), median", speeds[0], speeds[1], HigherIsBetter: true));
                }
            }
            if (!skipped.Contains("decode"))
            {
                var maxTokens = parse.GetValue(decodeTokens);
                var speeds = await AlternateAsync(targets, count, async target =>
                    (await ServerWorkloads.DecodeAsync(target, maxTokens, cancellationToken)).StreamTokensPerSecond ?? 0);
                Add(new VersusRow("single stream", $"decode tok/s ({maxTokens} tokens), median", speeds[0], speeds[1], HigherIsBetter: true));
            }
            if (!skipped.Contains("concurrency"))
            {
                var streams = parse.GetValue(concurrency);
                var levels = new LevelSummary[targets.Length];
                for (var i = 0; i < targets.Length; i++)
                {
                    levels[i] = await ServerWorkloads.ConcurrentAsync(targets[i], streams, parse.GetValue(requests), parse.GetValue(BenchOptions.PromptWords),
                        parse.GetValue(BenchOptions.MaxTokens), cancellationToken);
                }
                var name = $"{streams} streams";
                Add(new VersusRow(name, "aggregate output tok/s", levels[0].AggregateTokensPerSecond, levels[1].AggregateTokensPerSecond, HigherIsBetter: true));
                Add(new VersusRow(name, "inter-token p95 ms", levels[0].ItlP95Ms, levels[1].ItlP95Ms, HigherIsBetter: false));
                Add(new VersusRow(name, "inter-token p99 ms", levels[0].ItlP99Ms, levels[1].ItlP99Ms, HigherIsBetter: false));
                Add(new VersusRow(name, "inter-token max ms", levels[0].ItlMaxMs, levels[1].ItlMaxMs, HigherIsBetter: false));
                Add(new VersusRow(name, "inter-token p50 ms", levels[0].ItlP50Ms, levels[1].ItlP50Ms, HigherIsBetter: false));
                Add(new VersusRow(name, "TTFT p50 ms", levels[0].TtftP50Ms, levels[1].TtftP50Ms, HigherIsBetter: false));
                Add(new VersusRow(name, "TTFT p95 ms", levels[0].TtftP95Ms, levels[1].TtftP95Ms, HigherIsBetter: false));
            }
            if (!skipped.Contains("conversations"))
            {
                var (n, t) = (parse.GetValue(conversations), parse.GetValue(turns));
                var byTarget = new RequestSample[targets.Length][][];
                for (var i = 0; i < targets.Length; i++)
                {
                    byTarget[i] = await ServerWorkloads.ConversationsAsync(targets[i], n, t, parse.GetValue(BenchOptions.PromptWords), parse.GetValue(BenchOptions.MaxTokens), cancellationToken);
                }
                var name = $"{n} conversations x {t} turns";
                double? Ttft(RequestSample[][] samples, int from, int to) =>
                    Percentiles.Median(samples[from..to].SelectMany(turn => turn).Select(s => s.TimeToFirstTokenMs!.Value));
                Add(new VersusRow(name, "TTFT p50 ms, turn 1", Ttft(byTarget[0], 0, 1), Ttft(byTarget[1], 0, 1), HigherIsBetter: false));
                for (var turn = 1; turn < t; turn++)
                {
                    Add(new VersusRow(name, $"TTFT p50 ms, turn {turn + 1}", Ttft(byTarget[0], turn, turn + 1), Ttft(byTarget[1], turn, turn + 1), HigherIsBetter: false));
                }
                if (t > 1)
                {
                    Add(new VersusRow(name, $"TTFT p50 ms, turns 2-{t}", Ttft(byTarget[0], 1, t), Ttft(byTarget[1], 1, t), HigherIsBetter: false));
                }
                double? Cached(RequestSample[][] samples) =>
                    samples[1..].SelectMany(turn => turn).Sum(s => s.CachedTokens ?? 0) * 100.0 / samples[1..].SelectMany(turn => turn).Sum(s => s.PromptTokens!.Value);
                Add(new VersusRow(name, $"cached share of prompt tokens, turns 2-{t} (%)", Cached(byTarget[0]), Cached(byTarget[1]), HigherIsBetter: true));
            }

            Console.WriteLine();
            Console.WriteLine("Markdown:");
            Console.WriteLine("| workload | figure | LlmStack | peer | LlmStack / peer |");
            Console.WriteLine("|---|---|---|---|---|");
            foreach (var row in rows)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {row.Workload} | {row.Metric} | {row.LlmStack:F1} | {row.Peer:F1} | {row.Ratio:F2}x |"));
            }
            await new BenchmarkReport { Command = "versus", Target = $"LlmStack.Api ({tuning}) vs {peerHttp.BaseAddress}, {Path.GetFileName(path)}", Versus = rows }
                .WriteAsync(parse.GetValue(BenchOptions.Json), cancellationToken);
            return 0;
        });
        return command;
    }

    private static readonly string Header = string.Format(CultureInfo.InvariantCulture, "{0,-28} {1,-48} {2,10} {3,10} {4,8}", "workload", "figure", "LlmStack", "peer", "ratio");

    private static string Format(VersusRow row) => string.Format(CultureInfo.InvariantCulture, "{0,-28} {1,-48} {2,10:F1} {3,10:F1} {4,8}",
        row.Workload, row.Metric, row.LlmStack, row.Peer, row.Ratio is { } ratio ? ratio.ToString("F2", CultureInfo.InvariantCulture) + "x" : "-");

    // The servers take turns request by request, so a change in the machine's load falls on both alike; medians per server.
    private static async Task<double[]> AlternateAsync(Target[] targets, int reps, Func<Target, Task<double>> measure)
    {
        var values = targets.Select(_ => new List<double>()).ToArray();
        for (var rep = 0; rep < reps; rep++)
        {
            for (var i = 0; i < targets.Length; i++)
            {
                values[i].Add(await measure(targets[i]));
            }
        }
        return [.. values.Select(v => Percentiles.Median(v)!.Value)];
    }
}
