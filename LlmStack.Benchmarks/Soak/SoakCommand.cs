using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using LlmStack.Benchmarks.Hosting;
using LlmStack.Benchmarks.Load;

namespace LlmStack.Benchmarks.Soak;

/// <summary>
/// <c>soak</c>: LlmStack.Api as its own process (API keys with request and token budgets, a small admission bound, a
/// short stream write timeout) under a mixed load for a given time - streams, replies, hang-ups, bad bodies, wrong
/// keys, bursts beyond a key's budget, embeddings, and a greedy key that keeps three times the model's slots in streams
/// it does not read - then an overload check at 4x its capacity (slots + queue). Prints requests by kind and outcome,
/// latency percentiles, and the API's resident memory at the start, after 1 minute and at the end.
/// </summary>
internal static class SoakCommand
{
    private const string Model = "soak-scripted";
    private const string Key = "sk-soak-0123456789abcdef0123";
    private const string LimitedKey = "sk-soak-limited-0123456789ab";
    private const string GreedyKey = "sk-soak-greedy-0123456789abc";
    private static readonly TimeSpan StreamWriteTimeout = TimeSpan.FromSeconds(3);
    private const int Slots = 2;

    // Below the slot count, so the greedy key can never hold every slot: the other keys' turns are what is measured.
    private const int GreedyMaxConcurrent = Slots - 1;
    private const int Queue = 6;
    private static readonly TimeSpan RetryPause = TimeSpan.FromMilliseconds(200);

    private static readonly Option<int> Duration = BenchOptions.Positive(new("--duration")
    {
        Description = "Seconds of mixed load.", DefaultValueFactory = _ => 600,
    });

    private static readonly Option<int> Workers = BenchOptions.Positive(new("--workers")
    {
        Description = "Clients sending requests back to back.", DefaultValueFactory = _ => 4,
    });

    private static readonly Option<int> OverloadSeconds = BenchOptions.Positive(new("--overload-seconds")
    {
        Description = "Seconds of the overload check at 4x capacity.", DefaultValueFactory = _ => 30,
    });

    public static Command Create()
    {
        var command = new Command("soak", "Mixed load (streams, replies, hang-ups, bad bodies, wrong keys, over-limit bursts) against LlmStack.Api for a given time, then 4x over capacity.")
        {
            Duration, Workers, OverloadSeconds, BenchOptions.ModelsDir,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var path = new BenchModels(parse.GetValue(BenchOptions.ModelsDir)!).Scripted();
            var settings = new Dictionary<string, string>
            {
                ["LlmStack__Auth__Keys__0__Key"] = Key,
                ["LlmStack__Auth__Keys__0__Name"] = "soak",
                ["LlmStack__Auth__Keys__1__Key"] = LimitedKey,
                ["LlmStack__Auth__Keys__1__Name"] = "limited",
                ["LlmStack__Auth__Keys__1__RequestsPerMinute"] = "120",
                // Token budgets on every key: each request reserves and settles, whatever its ending.
                ["LlmStack__Auth__Keys__0__TokensPerMinute"] = "1000000",
                ["LlmStack__Auth__Keys__1__TokensPerMinute"] = "30000",
                ["LlmStack__Auth__Keys__2__Key"] = GreedyKey,
                ["LlmStack__Auth__Keys__2__Name"] = "greedy",
                ["LlmStack__Auth__Keys__2__MaxConcurrentRequests"] = GreedyMaxConcurrent.ToString(CultureInfo.InvariantCulture),
                ["LlmStack__Auth__Keys__2__TokensPerMinute"] = "1000000",
                ["LlmStack__StreamWriteTimeout"] = StreamWriteTimeout.ToString(),
                ["LlmStack__Models__0__MaxQueue"] = Queue.ToString(CultureInfo.InvariantCulture),
                ["LlmStack__Models__0__QueueTimeout"] = "00:00:10",
            };
            await using var api = await ApiProcess.StartAsync(Model, path, new EmbeddedTuning(ParallelSlots: Slots), cancellationToken, settings);
            using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 1024, PooledConnectionLifetime = TimeSpan.FromMinutes(1) })
            {
                BaseAddress = api.BaseAddress,
                Timeout = TimeSpan.FromSeconds(60),
            };
            Console.WriteLine($"LlmStack.Api serves {Model} (looping scripted model, {Slots} slots, queue {Queue}) at {api.BaseAddress}");
            Console.WriteLine($"Keys: soak and limited (request and token budgets), greedy ({3 * Slots} streams it does not read, " +
                $"MaxConcurrentRequests {GreedyMaxConcurrent}); StreamWriteTimeout {StreamWriteTimeout.TotalSeconds:F0} s");

            var soak = await SoakAsync(api, http, parse.GetValue(Duration), parse.GetValue(Workers), cancellationToken);
            var overload = await OverloadAsync(api, http, TimeSpan.FromSeconds(parse.GetValue(OverloadSeconds)), cancellationToken);
            return soak && overload ? 0 : 1;
        });
        return command;
    }

    private static async Task<bool> SoakAsync(ApiProcess api, HttpClient http, int seconds, int workers, CancellationToken cancellationToken)
    {
        var tally = new SoakTally();
        var client = new SoakClient(http, Model, Key, LimitedKey, tally);
        // Warm-up: the first requests load code paths and pools; RSS "at start" is taken after them.
        for (var i = 0; i < 5; i++)
        {
            await client.SendAsync("warm-up", "/v1/chat/completions", client.Chat(stream: true, 32), Key, cancellationToken);
        }
        var rssStart = api.ResidentBytes;
        long? rssMinute = null;
        Console.WriteLine($"Soak: {seconds} s, {workers} workers. API RSS at start (after warm-up): {Mib(rssStart)}");

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        stop.CancelAfter(TimeSpan.FromSeconds(seconds));
        var clock = Stopwatch.StartNew();
        var load = Task.WhenAll(Enumerable.Range(0, workers).Select(worker => Task.Run(async () =>
        {
            var random = new Random(worker);
            var fuzzer = new RequestFuzzer(Model, Model, seed: worker);
            while (!stop.IsCancellationRequested)
            {
                await client.RunOneAsync(random, fuzzer, stop.Token);
            }
        }, CancellationToken.None)).Append(GreedyLoadAsync(api, tally, stop.Token)));
        while (!load.IsCompleted)
        {
            await Task.WhenAny(load, Task.Delay(TimeSpan.FromSeconds(60), cancellationToken));
            if (load.IsCompleted)
            {
                break;
            }
            var rss = api.ResidentBytes;
            rssMinute ??= rss;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {clock.Elapsed.TotalMinutes,4:F0} min: {tally.Total} requests, {tally.UnexpectedCount} unexpected, API RSS {Mib(rss)}"));
        }
        await load;
        var rssEnd = api.ResidentBytes;

        Console.WriteLine($"Soak done: {tally.Total} requests in {clock.Elapsed.TotalSeconds:F0} s ({tally.Total / clock.Elapsed.TotalSeconds:F0}/s); by kind and outcome:");
        tally.Print(Console.Out);
        var growth = rssMinute is { } minute ? (rssEnd - minute) / (double)minute : (double?)null;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"API RSS: start {Mib(rssStart)}, 1 min {(rssMinute is { } m ? Mib(m) : "-")}, end {Mib(rssEnd)}; growth after warm-up (1 min -> end): {(growth is { } g ? $"{g:P1}" : "-")}"));
        var healthy = await HealthyAsync(http, cancellationToken);
        Console.WriteLine($"Unexpected answers (5xx other than 503 overloaded, refusals outside the envelope, cut streams, transport errors): {tally.UnexpectedCount}; healthy after: {healthy}");
        return tally.UnexpectedCount == 0 && healthy && growth is null or < 0.10;
    }

    /// <summary>
    /// The greedy key: three times the model's slots in streams it stops reading, opened again as soon as one ends (after
    /// a pause when refused). Its own limit and the model's fair queue keep the other keys served meanwhile.
    /// </summary>
    private static async Task GreedyLoadAsync(ApiProcess api, SoakTally tally, CancellationToken stop)
    {
        using var greedy = new GreedyClient(api.BaseAddress, Model, GreedyKey, StreamWriteTimeout * 3, tally);
        await Task.WhenAll(Enumerable.Range(0, 3 * Slots).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var outcome = await greedy.RunOneAsync(stop);
                if (outcome is not ("write timeout" or "write timeout (closed)" or "200" or "stopped"))
                {
                    await Task.Delay(RetryPause, CancellationToken.None);
                }
            }
        }, CancellationToken.None)));
    }

    /// <summary>
    /// 4x capacity (slots + queue) of clients sending streams back to back: the surplus must be refused fast
    /// (503 or 429), the admitted must complete, and the API's memory must stay bounded.
    /// </summary>
    private static async Task<bool> OverloadAsync(ApiProcess api, HttpClient http, TimeSpan duration, CancellationToken cancellationToken)
    {
        var clients = 4 * (Slots + Queue);
        var tally = new SoakTally();
        var client = new SoakClient(http, Model, Key, LimitedKey, tally);
        var rssBefore = api.ResidentBytes;
        var rssPeak = rssBefore;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        stop.CancelAfter(duration);
        var load = Task.WhenAll(Enumerable.Range(0, clients).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var outcome = await client.SendAsync("overload", "/v1/chat/completions", client.Chat(stream: true, 64), Key, stop.Token);
                if (outcome != "200")
                {
                    // A refused client comes back soon, as clients do (sooner than its Retry-After, to keep the pressure
                    // on); retrying in a tight loop would only measure this process competing with the API for the CPU.
                    await Task.Delay(RetryPause, CancellationToken.None);
                }
            }
        }, CancellationToken.None)));
        while (!load.IsCompleted)
        {
            await Task.WhenAny(load, Task.Delay(TimeSpan.FromSeconds(1), cancellationToken));
            rssPeak = Math.Max(rssPeak, api.ResidentBytes);
        }
        await load;

        var rejected = tally.Latencies((_, outcome) => outcome is "503 overloaded" || outcome.StartsWith("429", StringComparison.Ordinal)).ToArray();
        var admitted = tally.Latencies((_, outcome) => outcome == "200").ToArray();
        var rejectedP99 = Percentiles.Of(rejected, 99);
        var healthy = await HealthyAsync(http, cancellationToken);
        Console.WriteLine($"Overload: {clients} clients = 4 x capacity ({Slots} slots + {Queue} queue) for {duration.TotalSeconds:F0} s:");
        tally.Print(Console.Out);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Rejected {rejected.Length}: p50 {SoakTally.Ms(Percentiles.Of(rejected, 50))} ms, p99 {SoakTally.Ms(rejectedP99)} ms (target < 50 ms); admitted and completed {admitted.Length}; " +
            $"unexpected {tally.UnexpectedCount}; API RSS before {Mib(rssBefore)}, peak {Mib(rssPeak)}; healthy after: {healthy}"));
        return rejectedP99 is < 50 && admitted.Length > 0 && tally.UnexpectedCount == 0 && healthy;
    }

    private static async Task<bool> HealthyAsync(HttpClient http, CancellationToken cancellationToken)
    {
        using var ready = await http.GetAsync("/readyz", cancellationToken);
        return ready.IsSuccessStatusCode;
    }

    private static string Mib(long bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024.0 * 1024):F1} MiB");
}
