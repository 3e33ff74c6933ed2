using System.Runtime.CompilerServices;
using LlmStack.Api.Backends;
using LlmStack.Api.Errors;
using LlmStack.Tests.Fixtures;
using Microsoft.Extensions.AI;

namespace LlmStack.Tests.Backends;

/// <summary>
/// A text completion of several prompts (and choices, for a backend that writes one per call) split into calls and
/// joined back: OpenAI's choice order (prompt * n + i), each choice's seed, usage summed, streamed or not, the first
/// failure the reply's.
/// </summary>
public sealed class FanOutChatClientTests
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    // Writes "<prompt>/<seed>#<choice>" for each of its choices in two pieces, 3 prompt tokens and 2 output tokens per
    // choice; its whole reply lists its choices as a backend's does.
    private static Echoing Echo() => new();

    private sealed class Echoing : IChatClient
    {
        public ChatOptions? LastOptions { get; private set; }

        public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        {
            var updates = await GetStreamingResponseAsync(messages, options, cancellationToken).ToListAsync(cancellationToken);
            var choices = LlmStackChatOptions.ChoicesOf(options);
            return choices == 1 ? updates.ToChatResponse() : LlmStackChatOptions.ToChoicesResponse(updates, choices);
        }

        public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        {
            LastOptions = options;
            return Reply($"{Assert.Single(messages).Text}/{options?.Seed}", LlmStackChatOptions.ChoicesOf(options), cancellationToken);
        }

        public object? GetService(Type serviceType, object? serviceKey = null) => null;

        public void Dispose()
        {
        }
    }

    private static async IAsyncEnumerable<ChatResponseUpdate> Reply(string text, int choices, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        for (var choice = 0; choice < choices; choice++)
        {
            foreach (var piece in new[] { text[..1], $"{text[1..]}#{choice}" })
            {
                await Task.Yield();
                cancellationToken.ThrowIfCancellationRequested();
                var update = new ChatResponseUpdate(ChatRole.Assistant, piece);
                yield return choices > 1 ? LlmStackChatOptions.SetChoice(update, choice) : update;
            }
            if (choices > 1)
            {
                yield return LlmStackChatOptions.SetChoice(new ChatResponseUpdate { Role = ChatRole.Assistant, FinishReason = ChatFinishReason.Length }, choice);
            }
        }
        yield return new ChatResponseUpdate(ChatRole.Assistant, [new UsageContent(new UsageDetails
        {
            InputTokenCount = 3, OutputTokenCount = 2 * choices, TotalTokenCount = 3 + 2 * choices,
        })]) { FinishReason = choices > 1 ? null : ChatFinishReason.Stop };
    }

    private static (List<ChatMessage> Messages, ChatOptions Options) Completion(int n, params string[] prompts)
    {
        var options = new ChatOptions { Seed = 10 };
        LlmStackChatOptions.SetRawPrompt(options, suffix: null);
        LlmStackChatOptions.SetChoices(options, prompts.Length * n);
        return ([.. prompts.Select(p => new ChatMessage(ChatRole.User, p))], options);
    }

    [Fact]
    public async Task Prompts_become_calls_of_n_choices_in_OpenAIs_order_with_usage_summed()
    {
        var inner = Echo();
        using var client = new FanOutChatClient(inner, FanOut.Prompts);
        var (messages, options) = Completion(2, "a", "b", "c");

        var response = await client.GetResponseAsync(messages, options, Cancel);

        var choices = LlmStackChatOptions.ChoicesOf(response);
        // Each call generated its prompt's n choices itself (the same seed: its backend varies it per choice).
        Assert.Equal(["a/10#0", "a/10#1", "b/10#0", "b/10#1", "c/10#0", "c/10#1"], choices.Select(c => c.Text));
        Assert.All(choices, c => Assert.Equal(ChatFinishReason.Length, c.FinishReason));
        Assert.Equal(9, response.Usage!.InputTokenCount);
        Assert.Equal(12, response.Usage.OutputTokenCount);
        Assert.Equal(21, response.Usage.TotalTokenCount);
        // The request's options are left as they were.
        Assert.Equal(6, LlmStackChatOptions.ChoicesOf(options));
    }

    [Fact]
    public async Task Choices_split_per_call_take_the_seed_plus_their_index_and_stream_tagged_with_one_usage_last()
    {
        using var client = new FanOutChatClient(Echo(), FanOut.Prompts | FanOut.CompletionChoices);
        var (messages, options) = Completion(2, "a", "b");

        var updates = await client.GetStreamingResponseAsync(messages, options, Cancel).ToListAsync(Cancel);

        var texts = Enumerable.Range(0, 4).Select(i => string.Concat(updates.Where(u => LlmStackChatOptions.ChoiceOf(u) == i).Select(u => u.Text))).ToList();
        Assert.Equal(["a/10#0", "a/11#0", "b/10#0", "b/11#0"], texts);
        // Every choice ends with its own finish reason; the one usage, of all four calls, comes last.
        Assert.Equal([0, 1, 2, 3], updates.Where(u => u.FinishReason is not null).Select(LlmStackChatOptions.ChoiceOf).Order());
        var usage = Assert.Single(updates.SelectMany(u => u.Contents).OfType<UsageContent>());
        Assert.Same(usage, updates[^1].Contents.Single());
        Assert.Equal(12, usage.Details.InputTokenCount);
        Assert.Equal(8, usage.Details.OutputTokenCount);
    }

    [Fact]
    public async Task A_chats_choices_split_per_call_each_carry_the_whole_conversation()
    {
        using var client = new FanOutChatClient(Echo(), FanOut.ChatChoices);
        var options = new ChatOptions { Seed = 1 };
        LlmStackChatOptions.SetChoices(options, 3);

        var response = await client.GetResponseAsync([new ChatMessage(ChatRole.User, "q")], options, Cancel);

        Assert.Equal(["q/1#0", "q/2#0", "q/3#0"], LlmStackChatOptions.ChoicesOf(response).Select(c => c.Text));
        Assert.Equal(9, response.Usage!.InputTokenCount);
    }

    [Fact]
    public async Task A_chat_and_a_completion_of_one_prompt_pass_through_unsplit()
    {
        var inner = Echo();
        using var client = new FanOutChatClient(inner, FanOut.Prompts);
        var (messages, options) = Completion(3, "only");

        var response = await client.GetResponseAsync(messages, options, Cancel);
        var sent = inner.LastOptions;
        var chat = await client.GetResponseAsync([new ChatMessage(ChatRole.User, "hi")], new ChatOptions(), Cancel);

        Assert.Equal(3, LlmStackChatOptions.ChoicesOf(response).Count);
        Assert.Same(options, sent);
        Assert.Equal("hi/#0", chat.Text);
    }

    [Fact]
    public async Task The_first_failure_is_the_replys_and_stops_the_other_calls()
    {
        var stopped = new TaskCompletionSource();
        var inner = new InMemoryChatClient((messages, _, cancellationToken) => messages[0].Text == "bad"
            ? Fail(ApiErrorException.BackendFailed("m", "runner died"))
            : Hang(stopped, cancellationToken));
        using var client = new FanOutChatClient(inner, FanOut.Prompts);
        var (messages, options) = Completion(1, "good", "bad");

        var streamed = await Assert.ThrowsAsync<ApiErrorException>(() => client.GetStreamingResponseAsync(messages, options, Cancel).ToListAsync(Cancel).AsTask());
        await stopped.Task.WaitAsync(TimeSpan.FromSeconds(10), Cancel);
        var whole = await Assert.ThrowsAsync<ApiErrorException>(() => client.GetResponseAsync(messages, options, Cancel));

        Assert.Contains("runner died", streamed.Message);
        Assert.Contains("runner died", whole.Message);
    }

    [Fact]
    public async Task A_call_that_times_out_fails_the_stream_instead_of_ending_it_as_if_whole()
    {
        // An HttpClient timeout is a TaskCanceledException that nobody asked for.
        var inner = new InMemoryChatClient((messages, _, _) => messages[0].Text == "slow"
            ? Fail(new TaskCanceledException("The request was canceled due to the configured HttpClient.Timeout of 100 seconds elapsing."))
            : Reply("quick", 1, CancellationToken.None));
        using var client = new FanOutChatClient(inner, FanOut.Prompts);
        var (messages, options) = Completion(1, "quick", "slow");

        var error = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.GetStreamingResponseAsync(messages, options, Cancel).ToListAsync(Cancel).AsTask());

        Assert.Contains("HttpClient.Timeout", error.Message);
    }

    private static async IAsyncEnumerable<ChatResponseUpdate> Fail(Exception error)
    {
        await Task.Delay(50);
        yield return new ChatResponseUpdate(ChatRole.Assistant, "x");
        throw error;
    }

    private static async IAsyncEnumerable<ChatResponseUpdate> Hang(TaskCompletionSource stopped, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        yield return new ChatResponseUpdate(ChatRole.Assistant, "y");
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
        finally
        {
            stopped.TrySetResult();
        }
    }
}
