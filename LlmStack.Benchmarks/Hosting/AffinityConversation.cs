using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmStack.Api;
using LlmStack.Api.Telemetry;
using LlmStack.Benchmarks.Load;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;

namespace LlmStack.Benchmarks.Hosting;

/// <summary>
/// <c>conversation --replicas</c>: what conversation affinity is worth. Two API processes serve the same
/// Qwen2.5-shaped model (each an embedded engine that keeps idle conversations' KV cache); an API in front serves
/// them as one model twice - <c>Routing:Affinity</c> on and off. The same kind of multi-turn conversations (chat with
/// its whole history, and Responses with <c>previous_response_id</c>) run against each, in one run, several at a time
/// when asked: turn t of every conversation, then turn t+1. With affinity every turn finds its prefix on the replica
/// that served the last one; without, equally idle replicas take turns, so a conversation's turns alternate between
/// them. Whether the replica a turn lands on still holds that conversation is what the replica's cache size decides:
/// one conversation at a time, the turn before last is still there and only what the other replica served since is
/// recomputed; with more conversations in flight than a replica's cache holds (<c>ParallelSlots</c> live, plus
/// <c>HostCacheBytes</c> of host memory), the others' turns in between evict it and every turn recomputes its whole
/// history. Each turn's cached prompt tokens, as the replica reports them in the usage, show which happened.
/// </summary>
internal static class AffinityConversation
{
    // The columns, in the order the runs are made: a kind of conversation, and the router model that routes it.
    private static readonly (string Heading, string Model, bool Responses)[] Runs =
    [
        ("chat, affinity", "affinity-on", false),
        ("chat, no affinity", "affinity-off", false),
        ("responses, affinity", "affinity-on", true),
        ("responses, no affinity", "affinity-off", true),
    ];

    /// <param name="fresh">Start the replicas (and the router) anew for each column, so each starts from empty caches.</param>
    public static async Task RunAsync(string modelId, string path, EmbeddedTuning tuning, Workload workload, int turns, int conversations, bool fresh, TimeSpan timeout,
        CancellationToken cancellationToken)
    {
        using var replicaFirstTokens = new ReplicaFirstTokens();
        // Without fresh replicas every column after the first starts from the caches the columns before it left.
        await using var shared = fresh ? null : await Served.StartAsync(modelId, path, tuning, timeout, cancellationToken);
        var runs = new List<ConversationTurn[][]>();
        foreach (var (heading, model, responses) in Runs)
        {
            await using var own = fresh ? await Served.StartAsync(modelId, path, tuning, timeout, cancellationToken) : null;
            var served = own ?? shared!;
            if (fresh || runs.Count == 0)
            {
                Console.WriteLine($"{(fresh ? heading + ": t" : "T")}wo replicas of {Path.GetFileName(path)} ({tuning}) at {served.First.BaseAddress} and {served.Second.BaseAddress}, routed by an API at {served.Router.Urls.First()}");
            }
            var talk = workload with { Model = model };
            runs.Add(await InterleaveAsync(conversations, turns,
                () => responses ? Responses(served.Http, talk) : Chat(served.Chat, talk), replicaFirstTokens, cancellationToken));
        }

        // Each conversation has replies of its own (its own session line), so each has its own prompt lengths.
        Console.WriteLine(conversations == 1
            ? $"{turns}-turn conversations over 2 replicas, ~{workload.PromptWords} words per user message, max_tokens {workload.MaxTokens}: TTFT per turn, and prompt tokens / those the replica found cached (usage)"
            : $"{conversations} {turns}-turn conversations at a time over 2 replicas (turn t of each, then turn t+1), ~{workload.PromptWords} words per user message, max_tokens {workload.MaxTokens}: per turn the median TTFT of the {conversations} conversations, and their prompt tokens / those the replicas found cached (usage), summed");
        Console.WriteLine(" turn" + string.Concat(Runs.Select(r => "  " + r.Heading.PadLeft(25))));
        for (var i = 0; i < turns; i++)
        {
            var line = new StringBuilder(string.Create(CultureInfo.InvariantCulture, $"{i + 1,5}"));
            foreach (var run in runs)
            {
                var cell = ConversationTurn.Summarize(run.Select(conversation => conversation[i]));
                var tokens = string.Create(CultureInfo.InvariantCulture, $"{cell.PromptTokens?.ToString(CultureInfo.InvariantCulture) ?? "-"}/{cell.CachedTokens?.ToString(CultureInfo.InvariantCulture) ?? "-"}");
                line.Append(string.Create(CultureInfo.InvariantCulture, $"  {SweepTable.Ms(cell.TimeToFirstTokenMs),9} {tokens,15}"));
            }
            Console.WriteLine(line);
        }
        Console.WriteLine($"the same turns: the replica's own TTFT (the router's llmstack.replica.time_to_first_token, from sending the call to the replica's first token{(conversations == 1 ? "" : $", median of the {conversations} conversations")}) / what the routing API added before and after it (the turn's TTFT minus the replica's)");
        Console.WriteLine(" turn" + string.Concat(Runs.Select(r => "  " + r.Heading.PadLeft(25))));
        for (var i = 0; i < turns; i++)
        {
            var line = new StringBuilder(string.Create(CultureInfo.InvariantCulture, $"{i + 1,5}"));
            foreach (var run in runs)
            {
                var replica = ConversationTurn.Summarize(run.Select(conversation => conversation[i])).ReplicaTimeToFirstTokenMs;
                var added = Percentiles.Median(run.Select(c => c[i].TimeToFirstTokenMs - c[i].ReplicaTimeToFirstTokenMs).OfType<double>());
                line.Append(string.Create(CultureInfo.InvariantCulture, $"  {SweepTable.Ms(replica),13} {(added is { } a ? $"{a:+0;-0;0} ms" : "-"),11}"));
            }
            Console.WriteLine(line);
        }
        var late = runs.Select(run => SweepTable.Ms(Percentiles.Median(run.SelectMany(c => c.Skip(turns / 2)).Select(t => t.TimeToFirstTokenMs ?? 0)))).ToArray();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"median TTFT of turns {turns / 2 + 1}-{turns}: chat {late[0]} with affinity, {late[1]} without; responses {late[2]} with, {late[3]} without"));
        var shares = runs.Select(run => ConversationTurn.CachedShare(run.SelectMany(c => c.Skip(1)))).ToArray();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"prompt tokens found cached, turns 2-{turns}: chat {shares[0] * 100:F0}% with affinity, {shares[1] * 100:F0}% without; responses {shares[2] * 100:F0}% with, {shares[3] * 100:F0}% without"));
    }

    /// <summary>
    /// <paramref name="conversations"/> conversations, interleaved turn by turn (turn t of each, then turn t+1); each
    /// conversation's turns in order.
    /// </summary>
    private static async Task<ConversationTurn[][]> InterleaveAsync(int conversations, int turns, Func<Func<int, CancellationToken, Task<ConversationTurn>>> start,
        ReplicaFirstTokens replicaFirstTokens, CancellationToken cancellationToken)
    {
        var talks = Enumerable.Range(0, conversations).Select(_ => start()).ToArray();
        var measured = talks.Select(_ => new ConversationTurn[turns]).ToArray();
        for (var turn = 1; turn <= turns; turn++)
        {
            for (var c = 0; c < conversations; c++)
            {
                replicaFirstTokens.Take();
                measured[c][turn - 1] = await talks[c](turn, cancellationToken) with { ReplicaTimeToFirstTokenMs = replicaFirstTokens.Take() };
            }
        }
        return measured;
    }

    /// <summary>Two replica processes and the routing API in front of them, with a client of it.</summary>
    private sealed class Served(ApiProcess first, ApiProcess second, WebApplication router, HttpClient http) : IAsyncDisposable
    {
        public ApiProcess First => first;

        public ApiProcess Second => second;

        public WebApplication Router => router;

        public HttpClient Http => http;

        public ChatStreamClient Chat { get; } = new(http);

        public static async Task<Served> StartAsync(string modelId, string path, EmbeddedTuning tuning, TimeSpan timeout, CancellationToken cancellationToken)
        {
            var replicas = await ApiProcess.StartAllAsync([Settings(), Settings()], waitUntilReady: true, cancellationToken);
            try
            {
                var router = await StartRouterAsync(modelId, [.. replicas.Select(r => new Uri(r.BaseAddress, "v1").ToString())], cancellationToken);
                return new Served(replicas[0], replicas[1], router, new HttpClient { BaseAddress = new Uri(router.Urls.First() + "/"), Timeout = timeout });
            }
            catch
            {
                foreach (var replica in replicas)
                {
                    await replica.DisposeAsync();
                }
                throw;
            }

            IReadOnlyDictionary<string, string> Settings() => ApiProcess.EmbeddedSettings(modelId, path, tuning);
        }

        public async ValueTask DisposeAsync()
        {
            http.Dispose();
            await router.DisposeAsync();
            await first.DisposeAsync();
            await second.DisposeAsync();
        }
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

    /// <summary>
    /// The routing API's <c>llmstack.replica.time_to_first_token</c> (this process hosts it; the replicas are processes of
    /// their own): with one call at a time, the last one recorded is the last call's.
    /// </summary>
    private sealed class ReplicaFirstTokens : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly Lock _lock = new();
        private double? _lastMs;

        public ReplicaFirstTokens()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument is { Meter.Name: LlmStackMetrics.MeterName, Name: "llmstack.replica.time_to_first_token" })
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<double>((_, seconds, _, _) =>
            {
                lock (_lock)
                {
                    _lastMs = seconds * 1000;
                }
            });
            _listener.Start();
        }

        /// <summary>The measurement recorded since the last call, in ms; null when none was.</summary>
        public double? Take()
        {
            lock (_lock)
            {
                var last = _lastMs;
                _lastMs = null;
                return last;
            }
        }

        public void Dispose() => _listener.Dispose();
    }

    /// <summary>A chat conversation sending its whole history every turn; each call is the next turn.</summary>
    private static Func<int, CancellationToken, Task<ConversationTurn>> Chat(ChatStreamClient client, Workload workload)
    {
        // A session line of its own: nothing either replica cached from another conversation is a prefix of this one.
        var system = $"Session {Guid.NewGuid():N}. You are a helpful assistant.";
        var history = new List<BenchMessage>();
        return async (turn, cancellationToken) =>
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
            return new ConversationTurn(sample.TimeToFirstTokenMs, sample.PromptTokens, sample.CachedTokens);
        };
    }

    /// <summary>A Responses conversation, each turn naming the previous response; each call is the next turn, timed to its first text delta.</summary>
    private static Func<int, CancellationToken, Task<ConversationTurn>> Responses(HttpClient http, Workload workload)
    {
        var instructions = $"Session {Guid.NewGuid():N}. You are a helpful assistant.";
        string? previous = null;
        return async (turn, cancellationToken) =>
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
            return new ConversationTurn(first, input, cached);
        };
    }
}
