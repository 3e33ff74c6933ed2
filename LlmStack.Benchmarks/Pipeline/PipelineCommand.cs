using System.CommandLine;
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
/// <c>pipeline</c>: what the API itself adds to a request (parsing, validation, mapping, metrics, logging, JSON
/// or SSE) with a backend that answers at once: sequential requests over loopback to the API hosted in this
/// process, composed exactly as Program.cs composes it - the way the peers' overhead figures are measured
/// (Bifrost 0.44-0.62 ms, LiteLLM 4.3 ms per sequential request on localhost).
/// </summary>
internal static class PipelineCommand
{
    /// <summary>The model the instant backend serves.</summary>
    public const string Model = "instant";

    public static Command Create()
    {
        var requests = BenchOptions.Positive(new("--requests") { Description = "Measured sequential requests per mode (JSON, streamed).", DefaultValueFactory = _ => 3000 });
        var warmup = BenchOptions.Positive(new("--warmup") { Description = "Unmeasured requests first (JIT, connection).", DefaultValueFactory = _ => 300 });
        var proxy = new Option<bool>("--proxy") { Description = "Instead: the replica router's cost on the openai proxy path (one endpoint vs one and two replicas), at --concurrency." };
        var concurrency = BenchOptions.Positive(new("--concurrency") { Description = "Concurrent clients with --proxy.", DefaultValueFactory = _ => 16 });
        var rounds = BenchOptions.Positive(new("--rounds") { Description = "Rounds per mode with --proxy (each --requests / 10 requests).", DefaultValueFactory = _ => 10 });
        var paired = new Option<bool>("--paired") { Description = "With --proxy: the modes interleaved request by request on the same clients (--requests blocks of one request per mode), each mode's added latency the median of its paired differences from the baseline, with a 95% interval." };
        var router = new Option<bool>("--router") { Description = "Instead: the replica router's own CPU time and allocations per call, in process (one endpoint vs one and two replicas)." };
        var command = new Command("pipeline", "The API's own cost per request: sequential requests to an in-process API whose backend answers at once.")
        {
            requests, warmup, proxy, paired, router, concurrency, rounds,
        };
        command.Validators.Add(result =>
        {
            if (result.GetValue(paired) && !result.GetValue(proxy))
            {
                result.AddError("--paired measures the proxy path: use it with --proxy.");
            }
        });
        command.SetAction(async (parse, cancellationToken) =>
        {
            if (parse.GetValue(router))
            {
                await RouterCost.RunAsync(parse.GetValue(requests), parse.GetValue(rounds), cancellationToken);
                return;
            }
            if (parse.GetValue(proxy) && parse.GetValue(paired))
            {
                await ProxyOverhead.RunPairedAsync(parse.GetValue(concurrency), parse.GetValue(requests), parse.GetValue(warmup), cancellationToken);
                return;
            }
            if (parse.GetValue(proxy))
            {
                await ProxyOverhead.RunAsync(parse.GetValue(concurrency), Math.Max(1, parse.GetValue(requests) / 10), parse.GetValue(rounds), parse.GetValue(warmup), cancellationToken);
                return;
            }
            await using var app = await StartAsync(cancellationToken);
            using var client = new HttpClient { BaseAddress = new Uri(app.Urls.First() + "/") };
            foreach (var stream in new[] { false, true })
            {
                var samples = await MeasureAsync(client, stream, parse.GetValue(warmup), parse.GetValue(requests), cancellationToken);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{(stream ? "stream" : "json  ")}: {samples.Length} sequential requests, p50 {Percentiles.Of(samples, 50):F3} ms, p99 {Percentiles.Of(samples, 99):F3} ms, mean {samples.Average():F3} ms"));
            }
        });
        return command;
    }

    /// <summary>An API on a loopback port serving <see cref="Model"/> on the instant backend.</summary>
    public static async Task<WebApplication> StartAsync(CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["LlmStack:Models:0:Id"] = Model,
            ["LlmStack:Models:0:Backend"] = InstantBackend.BackendName,
            // No collector runs here; the request log stays on (it is part of what a request costs) but off the console.
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = "",
            ["Logging:LogLevel:Default"] = "Warning",
        });
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        builder.AddLlmStackApi();
        builder.Services.AddSingleton<IModelBackend, InstantBackend>();
        var app = builder.Build();
        app.UseLlmStackApi();
        await app.StartAsync(cancellationToken);
        return app;
    }

    private static async Task<double[]> MeasureAsync(HttpClient client, bool stream, int warmup, int requests, CancellationToken cancellationToken)
    {
        var body = $$"""{"model":"{{Model}}","stream":{{(stream ? "true" : "false")}},"messages":[{"role":"user","content":"Hi"}]}""";
        var samples = new double[requests];
        for (var i = -warmup; i < requests; i++)
        {
            var started = Stopwatch.GetTimestamp();
            using var response = await client.PostAsync("v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"), cancellationToken);
            await response.Content.ReadAsStringAsync(cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                throw new BenchmarkException($"The API answered {(int)response.StatusCode} to a measured request.");
            }
            if (i >= 0)
            {
                samples[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            }
        }
        return samples;
    }
}
