using System.CommandLine;
using System.Globalization;
using System.Text;
using LlmStack.Benchmarks.Load;

namespace LlmStack.Benchmarks.Hosting;

/// <summary>
/// <c>conversation</c>: what prompt-prefix reuse is worth to a chat. Serves a Qwen2.5-shaped model like <c>api</c>
/// and holds a multi-turn conversation (each turn sends the whole history plus a new user message, as chat clients
/// do), timing each turn's first token; then the same conversation again with a unique first line in every turn's
/// system message, so no turn shares a prefix with anything cached: the same token counts without reuse.
/// </summary>
internal static class ConversationCommand
{
    public static Command Create()
    {
        var turns = BenchOptions.Positive(new("--turns") { Description = "Turns of the conversation.", DefaultValueFactory = _ => 10 });
        var replicas = new Option<bool>("--replicas") { Description = "Instead: two replicas behind a routing API, the conversations with conversation affinity on and off (chat and previous_response_id)." };
        var conversations = BenchOptions.Positive(new("--conversations")
        {
            Description = "With --replicas: conversations at a time, interleaved turn by turn; more than a replica's cache holds (--parallel-slots, --host-cache-bytes) makes the turns that miss it recompute their whole history.",
            DefaultValueFactory = _ => 1,
        });
        var freshReplicas = new Option<bool>("--fresh-replicas") { Description = "With --replicas: start the replicas anew for each column, so none starts from the caches the ones before it left." };
        var command = new Command("conversation", "Time to first token per turn of a multi-turn chat, with and without the embedded engine's prompt-prefix reuse.")
        {
            BenchOptions.Shape, BenchOptions.ModelsDir, BenchOptions.Threads, BenchOptions.BatchSize, BenchOptions.StepTokens, BenchOptions.ParallelSlots,
            BenchOptions.HostCacheBytes, BenchOptions.LlamaCpp, turns, BenchOptions.MaxTokens, BenchOptions.PromptWords, BenchOptions.RequestTimeout, replicas, conversations, freshReplicas,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var shape = parse.GetValue(BenchOptions.Shape)!;
            var modelId = $"qwen2.5-{shape}-shaped";
            var path = new BenchModels(parse.GetValue(BenchOptions.ModelsDir)!).Random(shape);
            var tuning = BenchOptions.Tuning(parse);
            if (parse.GetValue(replicas))
            {
                await AffinityConversation.RunAsync(modelId, path, tuning, BenchOptions.Workload(parse, modelId), parse.GetValue(turns), parse.GetValue(conversations), parse.GetValue(freshReplicas),
                    TimeSpan.FromSeconds(parse.GetValue(BenchOptions.RequestTimeout)), cancellationToken);
                return 0;
            }
            await using var api = await ApiProcess.StartAsync(modelId, path, tuning, cancellationToken);
            Console.WriteLine($"LlmStack.Api serves {Path.GetFileName(path)} at {api.BaseAddress} ({tuning})");
            using var http = new HttpClient { BaseAddress = api.BaseAddress, Timeout = TimeSpan.FromSeconds(parse.GetValue(BenchOptions.RequestTimeout)) };
            var client = new ChatStreamClient(http);
            var workload = BenchOptions.Workload(parse, modelId);
            var count = parse.GetValue(turns);

            var reused = await TalkAsync(client, workload, count, uniquePrefix: false, cancellationToken);
            var fresh = await TalkAsync(client, workload, count, uniquePrefix: true, cancellationToken);

            Console.WriteLine($"{count}-turn conversation, ~{workload.PromptWords} words per user message, max_tokens {workload.MaxTokens}: TTFT per turn");
            Console.WriteLine(" turn  prompt  TTFT with reuse  TTFT without reuse");
            for (var i = 0; i < count; i++)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{i + 1,5} {reused[i].PromptTokens,7} {SweepTable.Ms(reused[i].TimeToFirstTokenMs),16} {SweepTable.Ms(fresh[i].TimeToFirstTokenMs),19}"));
            }
            await new BenchmarkReport { Command = "conversation", Target = $"LlmStack.Api, {modelId} ({tuning})", Workload = workload }
                .WriteAsync(null, cancellationToken);
            return 0;
        });
        return command;
    }

    private static async Task<IReadOnlyList<RequestSample>> TalkAsync(ChatStreamClient client, Workload workload, int turns, bool uniquePrefix, CancellationToken cancellationToken)
    {
        var history = new List<BenchMessage>();
        var samples = new List<RequestSample>();
        for (var turn = 1; turn <= turns; turn++)
        {
            // The unique line changes the first tokens of every prompt: nothing cached can be reused.
            var system = uniquePrefix ? $"Session {Guid.NewGuid():N}. You are a helpful assistant." : "Session 00000000000000000000000000000000. You are a helpful assistant.";
            history.Add(new BenchMessage("user", workload.Prompt(turn)));
            var reply = new StringBuilder();
            var sample = await client.SendAsync(
                new BenchChatRequest(workload.Model, [new BenchMessage("system", system), .. history], workload.MaxTokens, Temperature: 0, workload.Seed),
                cancellationToken, reply);
            if (!sample.Succeeded)
            {
                throw new BenchmarkException($"Turn {turn} failed: {sample.Error}");
            }
            history.Add(new BenchMessage("assistant", reply.ToString()));
            samples.Add(sample);
        }
        return samples;
    }
}
