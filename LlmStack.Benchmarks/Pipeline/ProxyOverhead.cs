using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using LlmStack.Api;
using LlmStack.Api.Backends;
using LlmStack.Benchmarks.Load;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace LlmStack.Benchmarks.Pipeline;

/// <summary>
/// <c>pipeline --proxy</c>: what the replica router adds on the openai proxy path. Two upstream APIs answer at once (the
/// instant backend, over OpenAI's protocol); an API in front serves the same upstream model three ways - one
/// <c>Endpoint</c> (no router, twice: the same configuration under two ids, whose difference is the run's noise floor),
/// <c>Replicas</c> with one entry, <c>Replicas</c> with two - and each is driven at the same concurrency, in rounds whose
/// order rotates so the machine's drift hits all alike. The router's cost is a mode's p50 minus the one-endpoint p50; the
/// process's CPU time and allocations per request say what it costs whatever the run queue does.
/// </summary>
internal static class ProxyOverhead
{
    // The second one-endpoint model is configured as the first: its difference from it is the run's noise floor.
    private static readonly string[] Modes = ["one-endpoint", "one-endpoint-bis", "one-replica", "two-replicas"];

    public static async Task RunAsync(int concurrency, int requestsPerRound, int rounds, int warmup, CancellationToken cancellationToken)
    {
        await using var rig = await ProxyRig.StartAsync(concurrency, cancellationToken);
        var client = rig.Client;

        Console.WriteLine($"openai proxy path: {concurrency} concurrent clients, {rounds} rounds of {requestsPerRound} requests per mode (order rotating), upstreams answering at once");
        Console.WriteLine("  mode              stream  p50 ms   p99 ms  added p50  cpu us/req  KiB/req   (cpu and allocations: the whole process - clients, router, upstreams)");
        foreach (var stream in new[] { true, false })
        {
            foreach (var mode in Modes)
            {
                await DriveAsync(client, mode, stream, concurrency, warmup, cancellationToken);
            }
            var samples = Modes.ToDictionary(m => m, _ => new List<double>());
            var cpu = Modes.ToDictionary(m => m, _ => TimeSpan.Zero);
            var allocated = Modes.ToDictionary(m => m, _ => 0L);
            using var process = Process.GetCurrentProcess();
            for (var round = 0; round < rounds; round++)
            {
                for (var k = 0; k < Modes.Length; k++)
                {
                    var mode = Modes[(round + k) % Modes.Length];
                    process.Refresh();
                    var (cpuBefore, allocatedBefore) = (process.TotalProcessorTime, GC.GetTotalAllocatedBytes(precise: true));
                    samples[mode].AddRange(await DriveAsync(client, mode, stream, concurrency, requestsPerRound, cancellationToken));
                    process.Refresh();
                    cpu[mode] += process.TotalProcessorTime - cpuBefore;
                    allocated[mode] += GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
                }
            }
            var baseline = Percentiles.Of(samples[Modes[0]], 50) ?? 0;
            foreach (var mode in Modes)
            {
                var p50 = Percentiles.Of(samples[mode], 50) ?? 0;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {mode,-17} {(stream ? "yes" : "no"),6} {p50,7:F3} {Percentiles.Of(samples[mode], 99),8:F3} {(mode == Modes[0] ? "-" : $"{(p50 - baseline) * 1000:+0;-0} us"),10} {cpu[mode].TotalMicroseconds / samples[mode].Count,11:F0} {allocated[mode] / samples[mode].Count / 1024.0,8:F1}"));
            }
        }
    }

    /// <summary>
    /// <c>pipeline --proxy --paired</c>: the same modes, interleaved request by request. Every client sends blocks of
    /// one request per mode in an order shuffled per block, so each mode's request runs beside the baseline's on the
    /// same client moments apart, under the same load; the run's drift, which moves whole rounds, cancels in each
    /// block's differences. A mode's added latency is the median over blocks of its latency minus the baseline's in the
    /// same block, with a distribution-free 95% interval; the second endpoint, configured as the first, is paired the
    /// same way: what it shows is what the method cannot tell from nothing.
    /// </summary>
    public static async Task RunPairedAsync(int concurrency, int blocks, int warmup, CancellationToken cancellationToken)
    {
        await using var rig = await ProxyRig.StartAsync(concurrency, cancellationToken);
        var client = rig.Client;

        Console.WriteLine($"openai proxy path, paired: {concurrency} concurrent clients, {blocks} blocks per kind - one request per mode in a shuffled order, on one client - upstreams answering at once");
        Console.WriteLine("  mode              stream  p50 ms   p99 ms  p50 - base   paired added: median   95% interval");
        foreach (var stream in new[] { true, false })
        {
            await BlocksAsync(client, stream, concurrency, warmup, cancellationToken);
            var measured = await BlocksAsync(client, stream, concurrency, blocks, cancellationToken);
            var baseline = Percentiles.Median(measured.Select(b => b[0])) ?? 0;
            for (var k = 0; k < Modes.Length; k++)
            {
                var p50 = Percentiles.Median(measured.Select(b => b[k])) ?? 0;
                var row = string.Create(CultureInfo.InvariantCulture, $"  {Modes[k],-17} {(stream ? "yes" : "no"),6} {p50,7:F3} {Percentiles.Of(measured.Select(b => b[k]), 99),8:F3}");
                if (k > 0)
                {
                    var differences = measured.Select(b => b[k] - b[0]).ToArray();
                    var (low, high) = Percentiles.MedianInterval(differences)!.Value;
                    row += string.Create(CultureInfo.InvariantCulture,
                        $" {(p50 - baseline) * 1000,8:+0;-0;0} us {Percentiles.Median(differences) * 1000,17:+0;-0;0} us   [{low * 1000:+0;-0;0}, {high * 1000:+0;-0;0}] us");
                }
                Console.WriteLine(row);
            }
        }
    }

    /// <summary>
    /// <paramref name="blocks"/> blocks from <paramref name="concurrency"/> clients, each block one request per mode in a
    /// shuffled order, sent one after the other by the same client; each block's latencies in ms, by mode.
    /// </summary>
    private static async Task<double[][]> BlocksAsync(HttpClient client, bool stream, int concurrency, int blocks, CancellationToken cancellationToken)
    {
        var measured = new double[blocks][];
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async seed =>
        {
            var random = new Random(seed);
            int[] order = [.. Enumerable.Range(0, Modes.Length)];
            int block;
            while ((block = Interlocked.Increment(ref next)) < blocks)
            {
                random.Shuffle(order);
                var latencies = new double[Modes.Length];
                foreach (var k in order)
                {
                    latencies[k] = await SendAsync(client, Modes[k], stream, cancellationToken);
                }
                measured[block] = latencies;
            }
        }));
        return measured;
    }

    // The two upstreams, the router in front of them and a client of it, for both ways of measuring.
    private sealed class ProxyRig(WebApplication first, WebApplication second, WebApplication router, HttpClient client) : IAsyncDisposable
    {
        public HttpClient Client => client;

        public static async Task<ProxyRig> StartAsync(int concurrency, CancellationToken cancellationToken)
        {
            var first = await PipelineCommand.StartAsync(cancellationToken);
            var second = await PipelineCommand.StartAsync(cancellationToken);
            static string Upstream(WebApplication app) => app.Urls.First() + "/v1";
            var router = await StartRouterAsync(Upstream(first), Upstream(second), cancellationToken);
            var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = concurrency * 2 }) { BaseAddress = new Uri(router.Urls.First() + "/") };
            return new ProxyRig(first, second, router, client);
        }

        public async ValueTask DisposeAsync()
        {
            client.Dispose();
            await router.DisposeAsync();
            await second.DisposeAsync();
            await first.DisposeAsync();
        }
    }

    private static async Task<WebApplication> StartRouterAsync(string first, string second, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateBuilder();
        var settings = new Dictionary<string, string?>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = "",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        void Model(int n, string id, params string[] replicas)
        {
            var key = $"LlmStack:Models:{n}";
            settings[$"{key}:Id"] = id;
            settings[$"{key}:Backend"] = "openai";
            settings[$"{key}:UpstreamModel"] = PipelineCommand.Model;
            // Room for every client at once: the admission queue is not what is measured.
            settings[$"{key}:MaxConcurrentRequests"] = "256";
            if (replicas.Length == 0)
            {
                settings[$"{key}:Endpoint"] = first;
            }
            for (var m = 0; m < replicas.Length; m++)
            {
                settings[$"{key}:Replicas:{m}:Endpoint"] = replicas[m];
                settings[$"{key}:Replicas:{m}:MaxConcurrentRequests"] = "256";
            }
        }
        Model(0, Modes[0]);
        Model(1, Modes[1]);
        Model(2, Modes[2], first);
        Model(3, Modes[3], first, second);
        builder.Configuration.AddInMemoryCollection(settings);
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        builder.AddLlmStackApi();
        var app = builder.Build();
        app.UseLlmStackApi();
        await app.StartAsync(cancellationToken);
        return app;
    }

    /// <summary><paramref name="requests"/> requests to <paramref name="model"/> from <paramref name="concurrency"/> clients; each one's latency in ms.</summary>
    private static async Task<List<double>> DriveAsync(HttpClient client, string model, bool stream, int concurrency, int requests, CancellationToken cancellationToken)
    {
        var samples = new List<double>(requests);
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
        {
            while (Interlocked.Increment(ref next) < requests)
            {
                var elapsed = await SendAsync(client, model, stream, cancellationToken);
                lock (samples)
                {
                    samples.Add(elapsed);
                }
            }
        }));
        return samples;
    }

    /// <summary>One chat request to <paramref name="model"/>, read to its end; its latency in ms.</summary>
    private static async Task<double> SendAsync(HttpClient client, string model, bool stream, CancellationToken cancellationToken)
    {
        var body = $$"""{"model":"{{model}}","stream":{{(stream ? "true" : "false")}},"messages":[{"role":"user","content":"Hi"}]}""";
        var started = Stopwatch.GetTimestamp();
        using var response = await client.PostAsync("v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"), cancellationToken);
        await response.Content.ReadAsStringAsync(cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new BenchmarkException($"The API answered {(int)response.StatusCode} to a request for {model}.");
        }
        return Stopwatch.GetElapsedTime(started).TotalMilliseconds;
    }
}
