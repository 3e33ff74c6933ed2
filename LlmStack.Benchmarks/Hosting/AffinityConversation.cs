using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmStack.Api;
using LlmStack.Benchmarks.Load;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;

namespace LlmStack.Benchmarks.Hosting;

/// <summary>
/// <c>conversation --replicas 2</c>: what conversation affinity is worth. Two API processes serve the same
/// Qwen2.5-shaped model (each an embedded engine that keeps idle conversations' KV cache); an API in front serves
/// them as one model twice - <c>Routing:Affinity</c> on and off. The same kind of multi-turn conversation (chat with
/// its whole history, and Responses with <c>previous_response_id</c>) runs against each, in one run: with affinity
/// every turn finds its prefix on the replica that served the last one; without, a turn that lands on the other
/// replica recomputes the whole history.
/// </summary>
internal static class AffinityConversation
{
    public static async Task RunAsync(string modelId, string path, EmbeddedTuning tuning, Workload workload, int turns, TimeSpan timeout, CancellationToken cancellationToken)
    {
        await using var first = await ApiProcess.StartAsync(modelId, path, tuning, cancellationToken);
        await using var second = await ApiProcess.StartAsync(modelId, path, tuning, cancellationToken);
        await using var router = await StartRouterAsync(modelId, [new Uri(first.BaseAddress, "v1").ToString(), new Uri(second.BaseAddress, "v1").ToString()], cancellationToken);
        Console.WriteLine($"Two replicas of {Path.GetFileName(path)} ({tuning}) at {first.BaseAddress} and {second.BaseAddress}, routed by an API at {router.Urls.First()}");
        using var http = new HttpClient { BaseAddress = new Uri(router.Urls.First() + "/"), Timeout = timeout };
        var chat = new ChatStreamClient(http);

        var chatAffine = await ChatAsync(chat, workload with { Model = "affinity-on" }, turns, cancellationToken);
        var chatSpread = await ChatAsync(chat, workload with { Model = "affinity-off" }, turns, cancellationToken);
        var responsesAffine = await ResponsesAsync(http, workload with { Model = "affinity-on" }, turns, cancellationToken);
        var responsesSpread = await ResponsesAsync(http, workload with { Model = "affinity-off" }, turns, cancellationToken);
        Turn[][] runs = [[.. chatAffine.Select(Turn.Of)], [.. chatSpread.Select(Turn.Of)], responsesAffine, responsesSpread];

        // Each conversation has replies of its own (its own session line), so each has its own prompt lengths.
        Console.WriteLine($"{turns}-turn conversations over 2 replicas, ~{workload.PromptWords} words per user message, max_tokens {workload.MaxTokens}: TTFT per turn, and prompt tokens / those the replica found cached (usage)");
        Console.WriteLine(" turn" + string.Concat(((string[])["chat, affinity", "chat, no affinity", "responses, affinity", "responses, no affinity"]).Select(h => "  " + h.PadLeft(25))));
        for (var i = 0; i < turns; i++)
        {
            var line = new StringBuilder(string.Create(CultureInfo.InvariantCulture, $"{i + 1,5}"));
            foreach (var run in runs)
            {
                var tokens = string.Create(CultureInfo.InvariantCulture, $"{run[i].PromptTokens?.ToString(CultureInfo.InvariantCulture) ?? "-"}/{run[i].CachedTokens?.ToString(CultureInfo.InvariantCulture) ?? "-"}");
                line.Append(string.Create(CultureInfo.InvariantCulture, $"  {SweepTable.Ms(run[i].TimeToFirstTokenMs),9} {tokens,15}"));
            }
            Console.WriteLine(line);
        }
        double Late(Turn[] run) => Percentiles.Median(run.Skip(turns / 2).Select(t => t.TimeToFirstTokenMs ?? 0)) ?? 0;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"median TTFT of turns {turns / 2 + 1}-{turns}: chat {SweepTable.Ms(Late(runs[0]))} with affinity, {SweepTable.Ms(Late(runs[1]))} without; responses {SweepTable.Ms(Late(runs[2]))} with, {SweepTable.Ms(Late(runs[3]))} without"));
    }

    /// <summary>One turn as measured: its time to first token, and its prompt and cached prompt tokens as the server's usage reported them.</summary>
    private sealed record Turn(double? TimeToFirstTokenMs, int? PromptTokens, int? CachedTokens)
    {
        public static Turn Of(RequestSample sample) => new(sample.TimeToFirstTokenMs, sample.PromptTokens, sample.CachedTokens);
    }

    private static async Task<WebApplication> StartRouterAsync(string modelId, string[] replicas, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateBuilder();
        var settings = new Dictionary<string, string?>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = "",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var (n, id, affinity) in new[] { (0, "affinity-on", true), (1, "affinity-off", false) })
        {
            settings[$"LlmStack:Models:{n}:Id"] = id;
            settings[$"LlmStack:Models:{n}:Backend"] = "openai";
            settings[$"LlmStack:Models:{n}:UpstreamModel"] = modelId;
            settings[$"LlmStack:Models:{n}:FirstTokenTimeout"] = "00:30:00";
            settings[$"LlmStack:Models:{n}:Routing:Affinity"] = affinity ? "true" : "false";
            for (var m = 0; m < replicas.Length; m++)
            {
                settings[$"LlmStack:Models:{n}:Replicas:{m}:Endpoint"] = replicas[m];
            }
        }
        builder.Configuration.AddInMemoryCollection(settings);
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        builder.AddLlmStackApi();
        var app = builder.Build();
        app.UseLlmStackApi();
        await app.StartAsync(cancellationToken);
        return app;
    }

    private static async Task<IReadOnlyList<RequestSample>> ChatAsync(ChatStreamClient client, Workload workload, int turns, CancellationToken cancellationToken)
    {
        // A session line of its own: nothing either replica cached from another conversation is a prefix of this one.
        var system = $"Session {Guid.NewGuid():N}. You are a helpful assistant.";
        var history = new List<BenchMessage>();
        var samples = new List<RequestSample>();
        for (var turn = 1; turn <= turns; turn++)
        {
            history.Add(new BenchMessage("user", workload.Prompt(turn)));
            var reply = new StringBuilder();
            var sample = await client.SendAsync(
                new BenchChatRequest(workload.Model, [new BenchMessage("system", system), .. history], workload.MaxTokens, Temperature: 0, workload.Seed),
                cancellationToken, reply);
            if (!sample.Succeeded)
            {
                throw new BenchmarkException($"Chat turn {turn} ({workload.Model}) failed: {sample.Error}");
            }
            history.Add(new BenchMessage("assistant", reply.ToString()));
            samples.Add(sample);
        }
        return samples;
    }

    /// <summary>A Responses conversation, each turn naming the previous response; the time to each turn's first text delta and its usage.</summary>
    private static async Task<Turn[]> ResponsesAsync(HttpClient http, Workload workload, int turns, CancellationToken cancellationToken)
    {
        var instructions = $"Session {Guid.NewGuid():N}. You are a helpful assistant.";
        string? previous = null;
        var measured = new List<Turn>();
        for (var turn = 1; turn <= turns; turn++)
        {
            var body = new JsonObject
            {
                ["model"] = workload.Model,
                ["instructions"] = instructions,
                ["input"] = workload.Prompt(turn),
                ["max_output_tokens"] = workload.MaxTokens,
                ["temperature"] = 0,
                ["stream"] = true,
            };
            if (previous is not null)
            {
                body["previous_response_id"] = previous;
            }
            var started = Stopwatch.GetTimestamp();
            using var request = new HttpRequestMessage(HttpMethod.Post, "v1/responses") { Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json") };
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                throw new BenchmarkException($"Responses turn {turn} ({workload.Model}) failed: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(cancellationToken)}");
            }
            double? first = null;
            int? input = null, cached = null;
            string? failed = null;
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken));
            while (await reader.ReadLineAsync(cancellationToken) is { } line)
            {
                if (!line.StartsWith("data: ", StringComparison.Ordinal))
                {
                    continue;
                }
                using var json = JsonDocument.Parse(line["data: ".Length..]);
                switch (json.RootElement.GetProperty("type").GetString())
                {
                    case "response.created":
                        previous = json.RootElement.GetProperty("response").GetProperty("id").GetString();
                        break;
                    case "response.output_text.delta" when first is null:
                        first = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                        break;
                    // At max_output_tokens the response ends incomplete; either way its usage is in the last event.
                    case "response.completed" or "response.incomplete":
                        var usage = json.RootElement.GetProperty("response").GetProperty("usage");
                        input = usage.GetProperty("input_tokens").GetInt32();
                        cached = usage.TryGetProperty("input_tokens_details", out var details) && details.TryGetProperty("cached_tokens", out var count) ? count.GetInt32() : null;
                        break;
                    case "response.failed":
                        failed = json.RootElement.GetRawText();
                        break;
                }
            }
            if (failed is not null)
            {
                throw new BenchmarkException($"Responses turn {turn} ({workload.Model}) failed: {failed}");
            }
            measured.Add(new Turn(first, input, cached));
        }
        return [.. measured];
    }
}
