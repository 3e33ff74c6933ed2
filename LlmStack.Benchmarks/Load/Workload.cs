using System.Text;

namespace LlmStack.Benchmarks.Load;

/// <summary>
/// What every request asks: the same prompt length, reply length and greedy seeded sampling, so that runs and
/// targets compare. Each request's prompt starts with its own number: a server that caches the KV of a shared
/// prompt prefix (the embedded backend does) would otherwise skip the prompt processing a new chat pays.
/// </summary>
public sealed record Workload(string Model, int PromptWords, int MaxTokens, long Seed = 42)
{
    private const string Filler =
        "The benchmark asks the model to continue a long story about a lighthouse keeper who counts ships, " +
        "tides and storms, and writes every evening what the sea has brought ashore during the day. ";

    public string Prompt(int requestNumber)
    {
        var text = new StringBuilder($"Request {requestNumber}. ");
        var words = Filler.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        for (var i = 0; i < PromptWords; i++)
        {
            text.Append(words[i % words.Length]).Append(' ');
        }
        return text.ToString().TrimEnd();
    }

    public BenchChatRequest Request(int requestNumber) =>
        new(Model, [new BenchMessage("user", Prompt(requestNumber))], MaxTokens, Temperature: 0, Seed);
}
