using System.Text;
using LlmStack.Benchmarks.Load;

namespace LlmStack.Benchmarks.Versus;

/// <summary>An OpenAI-compatible server a comparison runs against: its name in the tables, its client, the model id it serves.</summary>
internal sealed record Target(string Name, ChatStreamClient Client, string Model);

/// <summary>
/// The workloads of <c>versus</c> and <c>sweep</c>, each against one server: prompt processing at a given prompt
/// length, one stream's decode speed, concurrent streams, and conversations taking turns. Every prompt that should
/// not be served from a cache starts with a line of its own.
/// </summary>
internal static class ServerWorkloads
{
    private const string Filler =
        "The benchmark asks the model to continue a long story about a lighthouse keeper who counts ships, " +
        "tides and storms, and writes every evening what the sea has brought ashore during the day. ";

    private static readonly string[] FillerWords = Filler.Split(' ', StringSplitOptions.RemoveEmptyEntries);

    private static int s_unique;

    /// <summary>A user message of about <paramref name="words"/> words that no cache holds the start of.</summary>
    public static string UniquePrompt(int words)
    {
        var text = new StringBuilder($"Request {Interlocked.Increment(ref s_unique)}-{Guid.NewGuid():N}. ");
        for (var i = 0; i < words; i++)
        {
            text.Append(FillerWords[i % FillerWords.Length]).Append(' ');
        }
        return text.ToString().TrimEnd();
    }

    /// <summary>Words of filler that make about <paramref name="tokens"/> prompt tokens on <paramref name="target"/>'s tokenizer (one probe request).</summary>
    public static async Task<int> WordsForTokensAsync(Target target, int tokens, CancellationToken cancellationToken)
    {
        const int ProbeWords = 200;
        var probe = await SendAsync(target, [new BenchMessage("user", UniquePrompt(ProbeWords))], 1, cancellationToken);
        var perWord = (double)probe.PromptTokens!.Value / ProbeWords;
        return Math.Max(1, (int)Math.Round(tokens / perWord));
    }

    /// <summary>Time to first token of a prompt of <paramref name="words"/> filler words (nothing cached), and its prompt tokens.</summary>
    public static Task<RequestSample> PrefillAsync(Target target, int words, CancellationToken cancellationToken) =>
        SendAsync(target, [new BenchMessage("user", UniquePrompt(words))], 1, cancellationToken);

    /// <summary>One stream of <paramref name="maxTokens"/> tokens after a short prompt.</summary>
    public static Task<RequestSample> DecodeAsync(Target target, int maxTokens, CancellationToken cancellationToken) =>
        SendAsync(target, [new BenchMessage("user", UniquePrompt(20))], maxTokens, cancellationToken);

    /// <summary><paramref name="concurrency"/> clients sending <paramref name="requests"/> requests back to back in all.</summary>
    public static async Task<LevelSummary> ConcurrentAsync(Target target, int concurrency, int requests, int promptWords, int maxTokens, CancellationToken cancellationToken)
    {
        var levels = await LoadSweep.RunAsync(new SweepLimits([concurrency], requests, TimeSpan.FromMinutes(20)),
            (_, ct) => SendAsync(target, [new BenchMessage("user", UniquePrompt(promptWords))], maxTokens, ct), onLevel: null, cancellationToken);
        return levels[0];
    }

    /// <summary>
    /// <paramref name="conversations"/> conversations taking turns - every one's first turn, then every one's second, ... -
    /// each turn sending the whole history plus a new user message, as chat clients do; the samples by turn, then conversation.
    /// </summary>
    public static async Task<RequestSample[][]> ConversationsAsync(Target target, int conversations, int turns, int promptWords, int maxTokens, CancellationToken cancellationToken)
    {
        var histories = Enumerable.Range(0, conversations).Select(_ => new List<BenchMessage> { new("system", "You are a helpful assistant.") }).ToList();
        var samples = new RequestSample[turns][];
        for (var turn = 0; turn < turns; turn++)
        {
            samples[turn] = new RequestSample[conversations];
            for (var c = 0; c < conversations; c++)
            {
                var history = histories[c];
                history.Add(new BenchMessage("user", UniquePrompt(promptWords)));
                var reply = new StringBuilder();
                var sample = await SendAsync(target, [.. history], maxTokens, cancellationToken, reply);
                history.Add(new BenchMessage("assistant", reply.ToString()));
                samples[turn][c] = sample;
            }
        }
        return samples;
    }

    /// <summary>Sends one greedy request; a failure ends the run with the server's answer.</summary>
    private static async Task<RequestSample> SendAsync(Target target, IReadOnlyList<BenchMessage> messages, int maxTokens, CancellationToken cancellationToken, StringBuilder? reply = null)
    {
        var sample = await target.Client.SendAsync(new BenchChatRequest(target.Model, messages, maxTokens, Temperature: 0, Seed: 42), cancellationToken, reply);
        return sample.Succeeded && sample.PromptTokens is not null
            ? sample
            : throw new BenchmarkException($"A request to {target.Name} failed: {sample.Error ?? "no usage in the stream (stream_options.include_usage)"}");
    }
}
