using System.Diagnostics;
using System.Text;
using LlmStack.Tests.Fixtures;

namespace LlmStack.Tests.Api;

/// <summary>
/// What the API itself adds to a request (parsing, validation, mapping, metrics, logging, JSON or SSE), with
/// a backend that answers at once: sequential requests over loopback, as the peers' overhead figures are
/// measured (Bifrost 0.44-0.62 ms, LiteLLM 4.3 ms per sequential request on localhost). Prints figures;
/// run on demand: <c>LlmStack.Tests -class LlmStack.Tests.Api.GatewayOverheadBenchmark -explicit only -showLiveOutput</c>.
/// </summary>
public sealed class GatewayOverheadBenchmark(ITestOutputHelper output)
{
    private const int Warmup = 300;
    private const int Measured = 3000;

    [Fact(Explicit = true)]
    public async Task Sequential_request_overhead()
    {
        await using var app = InMemoryBackend.Serve(("instant", InMemoryChatClient.Replying(["Hello", " world", "!"])));
        using var client = new HttpClient { BaseAddress = app.BaseAddress };

        foreach (var stream in new[] { false, true })
        {
            var body = $$"""{"model":"instant","stream":{{(stream ? "true" : "false")}},"messages":[{"role":"user","content":"Hi"}]}""";
            var samples = new double[Measured];
            for (var i = -Warmup; i < Measured; i++)
            {
                var started = Stopwatch.GetTimestamp();
                using var response = await client.PostAsync("v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);
                await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
                if (i >= 0)
                {
                    samples[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                }
            }
            Array.Sort(samples);
            output.WriteLine($"{(stream ? "stream" : "json  ")}: {Measured} sequential requests, p50 {samples[Measured / 2]:F3} ms, p99 {samples[Measured * 99 / 100]:F3} ms, mean {samples.Average():F3} ms");
        }
    }
}
