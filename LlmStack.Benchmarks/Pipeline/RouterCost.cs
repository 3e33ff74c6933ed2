using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Runtime.CompilerServices;
using LlmStack.Api;
using LlmStack.Api.Backends;
using LlmStack.Api.Configuration;
using LlmStack.Api.Pipeline;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace LlmStack.Benchmarks.Pipeline;

/// <summary>
/// <c>pipeline --router</c>: the replica router's own work, in process and one call at a time, with nothing else around it:
/// a model's chat pipeline (OpenTelemetry, the first-token deadline, and for replicas the router) over a backend whose
/// updates are ready at once, built as the API builds it - one <c>Endpoint</c>, <c>Replicas</c> with one entry, with two.
/// CPU time and bytes allocated per call are what the router adds to every request on any machine, whatever else runs
/// beside it (unlike a latency at 16 clients on a shared box).
/// </summary>
internal static class RouterCost
{
    private static readonly string[] Modes = ["one-endpoint", "one-replica", "two-replicas"];

    public static async Task RunAsync(int calls, int rounds, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = "",
            ["Logging:LogLevel:Default"] = "Warning",
            // Started as the API starts (so its meters are listened to, as in production), with one model that loads at once.
            ["LlmStack:Models:0:Id"] = PipelineCommand.Model,
            ["LlmStack:Models:0:Backend"] = InstantBackend.BackendName,
        });
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        builder.AddLlmStackApi();
        builder.Services.AddSingleton<IModelBackend, InstantBackend>();
        await using var app = builder.Build();
        app.UseLlmStackApi();
        await app.StartAsync(cancellationToken);
        var services = app.Services;
        var pipelines = services.GetRequiredService<ModelPipelineBuilder>();
        var replicated = services.GetRequiredService<ReplicatedModels>();

        ServedModel Instant(string id) => new()
        {
            Id = id,
            Backend = "instant",
            ChatClient = new ReadyChatClient(),
            CheckReadyAsync = _ => Task.FromResult(HealthCheckResult.Healthy()),
        };
        ModelPipeline Routed(string id, int replicas)
        {
            var options = new ModelOptions { Id = id, Backend = "instant" };
            options.Replicas.AddRange(Enumerable.Range(0, replicas).Select(m => new ReplicaOptions { Endpoint = $"http://127.0.0.1:{1000 + m}/v1", MaxConcurrentRequests = 256 }));
            return pipelines.Build(replicated.Serve(options, [.. Enumerable.Range(0, replicas).Select(_ => Instant(id))]));
        }
        var clients = new Dictionary<string, IChatClient>
        {
            [Modes[0]] = pipelines.Build(Instant(Modes[0])).ChatClient,
            [Modes[1]] = Routed(Modes[1], 1).ChatClient,
            [Modes[2]] = Routed(Modes[2], 2).ChatClient,
        };

        ChatMessage[] messages = [new(ChatRole.User, "Hi")];
        Console.WriteLine($"the chat pipeline alone, one call at a time: {rounds} rounds of {calls} calls per mode (order rotating), a backend whose 5 updates are ready at once");
        Console.WriteLine("  mode            stream  us/call  KiB/call  added us  added bytes");
        foreach (var stream in new[] { true, false })
        {
            var time = Modes.ToDictionary(m => m, _ => 0.0);
            var bytes = Modes.ToDictionary(m => m, _ => 0L);
            foreach (var mode in Modes)
            {
                await CallAsync(clients[mode], messages, stream, calls, cancellationToken);
            }
            for (var round = 0; round < rounds; round++)
            {
                for (var k = 0; k < Modes.Length; k++)
                {
                    var mode = Modes[(round + k) % Modes.Length];
                    var allocated = GC.GetTotalAllocatedBytes(precise: true);
                    var started = Stopwatch.GetTimestamp();
                    await CallAsync(clients[mode], messages, stream, calls, cancellationToken);
                    time[mode] += Stopwatch.GetElapsedTime(started).TotalMicroseconds;
                    bytes[mode] += GC.GetTotalAllocatedBytes(precise: true) - allocated;
                }
            }
            double PerCall(double total) => total / ((double)calls * rounds);
            foreach (var mode in Modes)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {mode,-15} {(stream ? "yes" : "no"),6} {PerCall(time[mode]),8:F2} {PerCall(bytes[mode]) / 1024,9:F2}  {(mode == Modes[0] ? "-" : $"{PerCall(time[mode] - time[Modes[0]]):+0.00;-0.00}"),8}  {(mode == Modes[0] ? "-" : $"{PerCall(bytes[mode] - bytes[Modes[0]]):+0;-0}"),11}"));
            }
        }
    }

    private static async Task CallAsync(IChatClient client, ChatMessage[] messages, bool stream, int calls, CancellationToken cancellationToken)
    {
        for (var i = 0; i < calls; i++)
        {
            if (!stream)
            {
                await client.GetResponseAsync(messages, new ChatOptions(), cancellationToken);
                continue;
            }
            await foreach (var _ in client.GetStreamingResponseAsync(messages, new ChatOptions(), cancellationToken))
            {
            }
        }
    }

    /// <summary>A role-only opening, three pieces of text and the usage, all ready at once: only the layers above cost time.</summary>
    private sealed class ReadyChatClient : IChatClient
    {
        private static readonly ChatResponse Whole = new(new ChatMessage(ChatRole.Assistant, "Hello world!"))
        {
            FinishReason = ChatFinishReason.Stop,
            Usage = new UsageDetails { InputTokenCount = 7, OutputTokenCount = 3, TotalTokenCount = 10 },
        };

        public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
            Task.FromResult(Whole);

        public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
            IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            await Task.CompletedTask;
            yield return new ChatResponseUpdate { Role = ChatRole.Assistant };
            foreach (var piece in (string[])["Hello", " world", "!"])
            {
                yield return new ChatResponseUpdate(ChatRole.Assistant, piece);
            }
            yield return new ChatResponseUpdate(ChatRole.Assistant, [new UsageContent(new UsageDetails { InputTokenCount = 7, OutputTokenCount = 3, TotalTokenCount = 10 })])
            {
                FinishReason = ChatFinishReason.Stop,
            };
        }

        public object? GetService(Type serviceType, object? serviceKey = null) => null;

        public void Dispose()
        {
        }
    }
}
