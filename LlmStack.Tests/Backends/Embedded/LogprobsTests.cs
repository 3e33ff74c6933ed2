using System.Text;
using LlmStack.Api.Backends;
using LlmStack.Gguf;
using Microsoft.Extensions.AI;

namespace LlmStack.Tests.Backends.Embedded;

/// <summary>
/// Log probabilities from the embedded engine, on a random-weight model that always writes its full length (ASCII,
/// end-of-turn suppressed): taken from the model's own distribution at each sampled token, before temperature.
/// </summary>
public sealed class LogprobsTests : IDisposable
{
    /// <summary>How far one prompt's log probabilities may move when other sequences share its batch (float summation order).</summary>
    private const double BatchTolerance = 1e-3;

    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private readonly string _path = Path.Combine(Path.GetTempPath(), $"llmstack-logprobs-{Guid.NewGuid():N}.gguf");

    public LogprobsTests() => RandomModel.Write(_path, new RandomModelSpec { AsciiOnly = true, SuppressEndOfTurn = true });

    public void Dispose() => File.Delete(_path);

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private static ChatOptions Options(float temperature, int top, int tokens = 8)
    {
        var options = new ChatOptions { Temperature = temperature, MaxOutputTokens = tokens, Seed = 11 };
        LlmStackChatOptions.SetRawPrompt(options, suffix: null);
        LlmStackChatOptions.SetLogprobs(options, top);
        return options;
    }

    private static async Task<(ChatResponse Response, List<TokenLogprob> Tokens)> CompleteAsync(LoadedModel model, string prompt, ChatOptions options)
    {
        var response = await model.Client.GetResponseAsync(prompt, options, Cancel).WaitAsync(Timeout, Cancel);
        return (response, TokenLogprobsContent.In(response.Messages.SelectMany(m => m.Contents)));
    }

    [Fact]
    public async Task Greedy_picks_the_top_token_and_every_list_is_sorted_and_a_distribution()
    {
        using var model = LoadedModel.Load(_path);

        var (response, tokens) = await CompleteAsync(model, "The quick brown fox", Options(temperature: 0, top: 5));

        Assert.Equal(8, tokens.Count);
        Assert.Equal(response.Text, string.Concat(tokens.Select(t => t.Token)));
        Assert.Equal(response.Text, string.Concat(tokens.Select(t => Encoding.UTF8.GetString(t.Bytes))));
        foreach (var token in tokens)
        {
            Assert.True(token.Logprob <= 0, $"logprob {token.Logprob}");
            Assert.Equal(5, token.Top.Count);
            Assert.Equal(token.Top.OrderByDescending(t => t.Logprob).Select(t => t.Logprob), token.Top.Select(t => t.Logprob));
            Assert.True(token.Top.Sum(t => Math.Exp(t.Logprob)) <= 1 + 1e-6);
            // Greedy takes the most likely token: the top of the list, with the same log probability.
            Assert.Equal(token.Token, token.Top[0].Token);
            Assert.Equal(token.Logprob, token.Top[0].Logprob);
        }
    }

    [Fact]
    public async Task Sampled_tokens_are_in_the_distribution_before_temperature()
    {
        using var model = LoadedModel.Load(_path);

        var (_, hot) = await CompleteAsync(model, "The quick brown fox", Options(temperature: 1.5f, top: 20));
        var (_, greedy) = await CompleteAsync(model, "The quick brown fox", Options(temperature: 0, top: 20, tokens: 1));

        Assert.Equal(8, hot.Count);
        foreach (var token in hot)
        {
            Assert.True(token.Logprob <= 0, $"logprob {token.Logprob}");
            Assert.Equal(token.Top.OrderByDescending(t => t.Logprob).Select(t => t.Logprob), token.Top.Select(t => t.Logprob));
            if (token.Top.FirstOrDefault(t => t.Token == token.Token) is { } listed)
            {
                Assert.Equal(listed.Logprob, token.Logprob);
            }
        }
        // The first position's distribution is the model's whatever the temperature: the same list (within the
        // tolerance of another batch shape: the second run re-decodes only the prompt's last token).
        Assert.Equal(20, hot[0].Top.Count);
        Assert.All(hot[0].Top.Zip(greedy[0].Top), pair => Assert.True(Math.Abs(pair.First.Logprob - pair.Second.Logprob) <= BatchTolerance,
            $"{pair.First.Token} {pair.First.Logprob} vs {pair.Second.Token} {pair.Second.Logprob}"));
    }

    [Fact]
    public async Task A_prompts_logprobs_are_the_same_alone_and_batched_with_others()
    {
        using var model = LoadedModel.Load(_path, parallelSlots: 4);
        const string prompt = "Once upon a time there was";

        var (_, alone) = await CompleteAsync(model, prompt, Options(temperature: 0, top: 3));
        var batched = await Task.WhenAll(
            CompleteAsync(model, prompt, Options(temperature: 0, top: 3)),
            CompleteAsync(model, "A completely different prompt, longer than the first one", Options(temperature: 1, top: 3)),
            CompleteAsync(model, "Third", Options(temperature: 0.7f, top: 3)),
            CompleteAsync(model, "And a fourth prompt in the same batch", Options(temperature: 1, top: 3)));
        var together = batched[0].Tokens;

        Assert.Equal(8, together.Count);
        // Compared while both wrote the same tokens (a near-tie may flip a greedy choice under another batch shape).
        var compared = 0;
        for (; compared < alone.Count && alone[compared].Token == together[compared].Token; compared++)
        {
            Assert.True(Math.Abs(alone[compared].Logprob - together[compared].Logprob) <= BatchTolerance,
                $"token {compared}: alone {alone[compared].Logprob}, batched {together[compared].Logprob}");
            Assert.Equal(alone[compared].Top.Select(t => t.Token), together[compared].Top.Select(t => t.Token));
        }
        Assert.True(compared >= 4, $"only {compared} tokens agree");
    }
}
