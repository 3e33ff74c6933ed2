using System.Text;
using LlmStack.Api.Backends;
using LlmStack.Api.Backends.Embedded;
using LlmStack.Api.Errors;
using LlmStack.Gguf;
using Microsoft.Extensions.AI;

namespace LlmStack.Tests.Backends.Embedded;

/// <summary>
/// Several choices of one request (<c>n</c>) on the embedded engine, on a random-weight model that always writes its
/// full length: the prompt is read once and copied into the other sequences, and every choice generates in the same
/// batch with its own sampling.
/// </summary>
public sealed class ChoicesTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);

    private readonly string _path = Path.Combine(Path.GetTempPath(), $"llmstack-choices-{Guid.NewGuid():N}.gguf");

    public ChoicesTests() => RandomModel.Write(_path, new RandomModelSpec { AsciiOnly = true, SuppressEndOfTurn = true });

    public void Dispose() => File.Delete(_path);

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private static ChatOptions Options(int n, int tokens = 12)
    {
        var options = new ChatOptions { Temperature = 1, MaxOutputTokens = tokens, Seed = 5 };
        LlmStackChatOptions.SetRawPrompt(options, suffix: null);
        LlmStackChatOptions.SetChoices(options, n);
        return options;
    }

    [Fact]
    public async Task Four_choices_with_a_seed_read_the_prompt_once_differ_and_sum_their_usage()
    {
        using var model = LoadedModel.Load(_path, parallelSlots: 4, contextSize: 256);
        var decodedBefore = model.Host.Scheduler.PromptTokensDecoded;

        var response = await model.Client.GetResponseAsync("Once upon a time there was", Options(4), Cancel).WaitAsync(Timeout, Cancel);

        var choices = LlmStackChatOptions.ChoicesOf(response);
        Assert.Equal(4, choices.Count);
        Assert.Equal(4, choices.Select(c => c.Text).Distinct().Count());
        Assert.All(choices, choice => Assert.Equal(ChatFinishReason.Length, choice.FinishReason));
        var usage = response.Usage!;
        var prompt = (int)usage.InputTokenCount!;
        Assert.Equal(prompt, model.Host.Weights.Tokenize("Once upon a time there was", model.Host.Weights.Vocab.ShouldAddBOS, true, Encoding.UTF8).Length);
        // One prompt evaluation: the other three sequences copied its KV; nothing of it was cached before.
        Assert.Equal(prompt, model.Host.Scheduler.PromptTokensDecoded - decodedBefore);
        Assert.Equal(0, usage.CachedInputTokenCount);
        Assert.Equal(4 * 12, usage.OutputTokenCount);
        Assert.Equal(prompt + (4 * 12), usage.TotalTokenCount);
        Assert.Equal(4, model.Host.Scheduler.Free);

        // The same seed gives the same choices again (the prompt now comes from the cache).
        var again = await model.Client.GetResponseAsync("Once upon a time there was", Options(4), Cancel).WaitAsync(Timeout, Cancel);
        Assert.Equal(choices.Select(c => c.Text), LlmStackChatOptions.ChoicesOf(again).Select(c => c.Text));
        Assert.True(again.Usage!.CachedInputTokenCount > 0);
    }

    [Fact]
    public async Task Streamed_choices_interleave_tagged_each_ending_with_its_finish_then_one_usage()
    {
        using var model = LoadedModel.Load(_path, parallelSlots: 4, contextSize: 256);

        var updates = await model.Client.GetStreamingResponseAsync("A streamed story", Options(3, tokens: 10), Cancel).ToListAsync(Cancel).AsTask().WaitAsync(Timeout, Cancel);
        var whole = await model.Client.GetResponseAsync("A streamed story", Options(3, tokens: 10), Cancel).WaitAsync(Timeout, Cancel);

        var usage = Assert.Single(updates, u => u.Contents.OfType<UsageContent>().Any());
        Assert.Same(usage, updates[^1]);
        Assert.Equal(30, usage.Contents.OfType<UsageContent>().Single().Details.OutputTokenCount);
        var texts = Enumerable.Range(0, 3).Select(i => string.Concat(updates.Where(u => u != usage && LlmStackChatOptions.ChoiceOf(u) == i).Select(u => u.Text))).ToList();
        Assert.Equal(LlmStackChatOptions.ChoicesOf(whole).Select(c => c.Text), texts);
        for (var i = 0; i < 3; i++)
        {
            var finish = Assert.Single(updates, u => u != usage && LlmStackChatOptions.ChoiceOf(u) == i && u.FinishReason is not null);
            Assert.Equal(ChatFinishReason.Length, finish.FinishReason);
        }
        // Generated in the same steps: the choices' updates interleave rather than follow one another.
        var order = updates.Where(u => u != usage && u.Text.Length > 0).Select(LlmStackChatOptions.ChoiceOf).ToList();
        Assert.True(order.IndexOf(1) < order.LastIndexOf(0), $"choice order: {string.Join(",", order)}");
    }

    [Fact]
    public async Task A_cancelled_request_frees_every_choice_sequence()
    {
        using var model = LoadedModel.Load(_path, parallelSlots: 4, contextSize: 512);
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(Cancel);

        var read = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var update in model.Client.GetStreamingResponseAsync("Cancel me", Options(4, tokens: 400), cancel.Token))
            {
                if (++read == 8)
                {
                    await cancel.CancelAsync();
                }
            }
        }).WaitAsync(Timeout, Cancel);

        Assert.Equal(4, model.Host.Scheduler.Free);
        var next = await model.Client.GetResponseAsync("After", Options(2, tokens: 3), Cancel).WaitAsync(Timeout, Cancel);
        Assert.Equal(6, next.Usage!.OutputTokenCount);
    }

    [Fact]
    public async Task A_cancelled_completion_of_two_prompts_frees_every_sequence_of_both_groups()
    {
        using var model = LoadedModel.Load(_path, parallelSlots: 4, contextSize: 512);
        // The client the backend serves: a group of n choices per prompt.
        using var client = EmbeddedChatClient.For(model.Host);
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(Cancel);
        var prompts = new List<ChatMessage> { new(ChatRole.User, "First prompt"), new(ChatRole.User, "Second one") };

        var seen = new HashSet<int>();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            // Four sequences: two choices of each prompt.
            await foreach (var update in client.GetStreamingResponseAsync(prompts, Options(4, tokens: 400), cancel.Token))
            {
                seen.Add(LlmStackChatOptions.ChoiceOf(update));
                if (seen.Count == 4)
                {
                    await cancel.CancelAsync();
                }
            }
        }).WaitAsync(Timeout, Cancel);

        // All four choices were generating; the reply ended only once both groups had let go of their sequences.
        Assert.Equal(4, model.Host.Scheduler.Free);
        var next = await client.GetResponseAsync(prompts, Options(4, tokens: 3), Cancel).WaitAsync(Timeout, Cancel);
        Assert.Equal(4, LlmStackChatOptions.ChoicesOf(next).Count);
        Assert.Equal(12, next.Usage!.OutputTokenCount);
    }

    [Fact]
    public async Task More_choices_than_the_model_has_sequences_is_a_400()
    {
        using var model = LoadedModel.Load(_path, parallelSlots: 2, contextSize: 256);

        var error = await Assert.ThrowsAsync<ApiErrorException>(() => model.Client.GetResponseAsync("Hi", Options(3), Cancel).WaitAsync(Timeout, Cancel));

        Assert.Equal(400, error.StatusCode);
        Assert.Equal("n", error.Param);
        Assert.Contains("ParallelSlots", error.Message);
    }
}
