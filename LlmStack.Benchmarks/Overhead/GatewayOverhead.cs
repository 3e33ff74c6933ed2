using System.Globalization;
using LlmStack.Benchmarks.Hosting;
using LlmStack.Benchmarks.Load;

namespace LlmStack.Benchmarks.Overhead;

/// <summary>
/// Measures the API layer: one model file served by LlmStack.Api (a child process, over HTTP and SSE) and
/// loaded in this process behind the embedded backend's own chat client, with identical settings. Requests
/// alternate between the two (which goes first alternates too), one at a time, so the machine's drift - up to
/// 25% on shared machines - hits both sides alike; the figures are medians of per-run differences.
/// </summary>
public static class GatewayOverhead
{
    // Lets llama.cpp's worker threads of the side that just finished go idle before the other side starts.
    private static readonly TimeSpan Settle = TimeSpan.FromMilliseconds(100);

    public static async Task<OverheadResult> MeasureAsync(string label, string modelPath, Workload workload, int runs,
        EmbeddedTuning tuning, CancellationToken cancellationToken)
    {
        await using var api = await ApiProcess.StartAsync(workload.Model, modelPath, tuning, cancellationToken);
        await using var served = await InProcessModel.ServeAsync(tuning.ModelOptions(workload.Model, modelPath));
        var direct = served.ChatClient;
        using var http = new HttpClient { BaseAddress = api.BaseAddress, Timeout = TimeSpan.FromMinutes(5) };
        var overHttp = new ChatStreamClient(http);

        Task<RequestSample> Api(int n) => overHttp.SendAsync(workload.Request(n), cancellationToken);
        Task<RequestSample> Direct(int n) => InProcessChat.SendAsync(direct, workload, n, cancellationToken);

        // Warm both: JIT, connection, first-context allocation.
        Check(await Api(0));
        Check(await Direct(0));

        var serverBefore = await ServerHistogram.ReadAsync(http, ServerHistogram.TimePerOutputToken, cancellationToken);
        var pairs = new List<(RequestSample Api, RequestSample Direct)>();
        for (var run = 1; run <= runs; run++)
        {
            RequestSample viaApi, viaDirect;
            if (run % 2 == 0)
            {
                viaApi = Check(await Api(run));
                await Task.Delay(Settle, cancellationToken);
                viaDirect = Check(await Direct(run));
            }
            else
            {
                viaDirect = Check(await Direct(run));
                await Task.Delay(Settle, cancellationToken);
                viaApi = Check(await Api(run));
            }
            await Task.Delay(Settle, cancellationToken);
            pairs.Add((viaApi, viaDirect));
        }

        var serverPerToken = (await ServerHistogram.ReadAsync(http, ServerHistogram.TimePerOutputToken, cancellationToken)).MeanSince(serverBefore);

        static double Ttft(RequestSample s) => s.TimeToFirstTokenMs ?? 0;
        static double PerChunk(RequestSample s) => s.InterTokenMs.Count > 0 ? s.InterTokenMs.Average() : 0;
        double Median(Func<(RequestSample Api, RequestSample Direct), double> of) => Percentiles.Median(pairs.Select(of)) ?? 0;
        var last = pairs[^1].Api;
        return new OverheadResult
        {
            Model = label,
            Runs = runs,
            PromptTokens = last.PromptTokens,
            OutputTokens = last.OutputTokens,
            Chunks = last.ContentChunks,
            DirectTtftMs = Median(p => Ttft(p.Direct)),
            ApiTtftMs = Median(p => Ttft(p.Api)),
            AddedTtftUs = Median(p => (Ttft(p.Api) - Ttft(p.Direct)) * 1000),
            DirectPerChunkMs = Median(p => PerChunk(p.Direct)),
            ApiPerChunkMs = Median(p => PerChunk(p.Api)),
            AddedPerChunkUs = Median(p => (PerChunk(p.Api) - PerChunk(p.Direct)) * 1000),
            ApiServerPerTokenMs = serverPerToken * 1000,
            DirectEndToEndMs = Median(p => p.Direct.EndToEndMs),
            ApiEndToEndMs = Median(p => p.Api.EndToEndMs),
            AddedPerRequestUs = Median(p => (p.Api.EndToEndMs - p.Direct.EndToEndMs) * 1000),
        };
    }

    public static void Write(TextWriter output, OverheadResult result)
    {
        var c = CultureInfo.InvariantCulture;
        output.WriteLine(string.Create(c, $"Gateway overhead, {result.Model}: prompt {result.PromptTokens} tokens, {result.OutputTokens} output tokens in {result.Chunks} chunks, {result.Runs} paired runs (medians)"));
        output.WriteLine("                 direct IChatClient   LlmStack.Api (HTTP)       added     ratio");
        output.WriteLine(string.Create(c, $"  TTFT           {SweepTable.Ms(result.DirectTtftMs),18} {SweepTable.Ms(result.ApiTtftMs),20} {Us(result.AddedTtftUs),11} {result.TtftRatio,9:F3}"));
        output.WriteLine(string.Create(c, $"  per chunk      {SweepTable.Ms(result.DirectPerChunkMs),18} {SweepTable.Ms(result.ApiPerChunkMs),20} {Us(result.AddedPerChunkUs),11} {result.PerChunkRatio,9:F3}"));
        output.WriteLine(string.Create(c, $"  whole request  {SweepTable.Ms(result.DirectEndToEndMs),18} {SweepTable.Ms(result.ApiEndToEndMs),20} {Us(result.AddedPerRequestUs),11}"));
        if (result.ApiServerPerTokenMs is { } server)
        {
            output.WriteLine(string.Create(c, $"  per token as the API measures it (gen_ai.server.time_per_output_token, mean): {SweepTable.Ms(server)}"));
        }
    }

    private static string Us(double microseconds) => Math.Abs(microseconds) < 10_000
        ? microseconds.ToString("+0;-0", CultureInfo.InvariantCulture) + " us"
        : (microseconds / 1000).ToString("+0.0;-0.0", CultureInfo.InvariantCulture) + " ms";

    private static RequestSample Check(RequestSample sample) =>
        sample.Succeeded ? sample : throw new BenchmarkException($"A measured request failed: {sample.Error}");
}
