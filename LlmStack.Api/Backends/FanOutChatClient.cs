using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using System.Threading.Channels;
using Microsoft.Extensions.AI;

namespace LlmStack.Api.Backends;

/// <summary>What a backend cannot do in one call, and so has split into calls run at once (<see cref="FanOutChatClient"/>).</summary>
[Flags]
internal enum FanOut
{
    None = 0,

    /// <summary>A text completion of several prompts: one call per prompt, each with the request's <c>n</c>.</summary>
    Prompts = 1,

    /// <summary>A text completion's <c>n</c> choices of a prompt: one call per choice (needs <see cref="Prompts"/>).</summary>
    CompletionChoices = 2,

    /// <summary>A chat's <c>n</c> choices: one call per choice, each with the whole conversation.</summary>
    ChatChoices = 4,
}

/// <summary>
/// Splits a call its backend cannot make as one (<see cref="FanOut"/>) into calls it can, all at once, and joins their
/// replies into the reply of several choices every backend gives (<see cref="LlmStackChatOptions.ChoicesKey"/>): the
/// choices of prompt p are <c>p * n</c> to <c>p * n + n - 1</c> (OpenAI's order), streamed updates are tagged with
/// their choice and interleave as they come, each choice ends with its finish reason, and one usage - the sum of the
/// calls' - ends the reply. A choice split off samples with the request's seed plus its index, as the embedded engine's
/// choices do: distinct and reproducible. The first failure fails the reply and cancels the other calls; the reply ends
/// only once every call has.
/// </summary>
internal sealed class FanOutChatClient : DelegatingChatClient
{
    private readonly FanOut _splits;

    public FanOutChatClient(IChatClient inner, FanOut splits) : base(inner)
    {
        if (splits.HasFlag(FanOut.CompletionChoices) && !splits.HasFlag(FanOut.Prompts))
        {
            throw new ArgumentException("Choices of text completions are split per prompt: CompletionChoices needs Prompts.", nameof(splits));
        }
        _splits = splits;
    }

    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        if (Split(messages, options) is not { } calls)
        {
            return await base.GetResponseAsync(messages, options, cancellationToken).ConfigureAwait(false);
        }
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Exception? failure = null;
        var replies = calls.Select(async call =>
        {
            try
            {
                return await base.GetResponseAsync(call.Messages, call.Options, stop.Token).ConfigureAwait(false);
            }
            catch (Exception error)
            {
                // The first failure is the reply's; the cancellations it causes in the other calls are not.
                Interlocked.CompareExchange(ref failure, error, null);
                await stop.CancelAsync().ConfigureAwait(false);
                throw;
            }
        }).ToList();
        try
        {
            await Task.WhenAll(replies).ConfigureAwait(false);
        }
        catch when (failure is not null)
        {
            ExceptionDispatchInfo.Throw(failure);
        }
        var responses = replies.Select(reply => reply.Result).ToList();
        return LlmStackChatOptions.ToChoicesResponse(
            [.. responses.SelectMany(LlmStackChatOptions.ChoicesOf)], LlmStackChatOptions.SumOf(responses.Select(r => r.Usage)));
    }

    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        if (Split(messages, options) is not { } calls)
        {
            await foreach (var update in base.GetStreamingResponseAsync(messages, options, cancellationToken).ConfigureAwait(false))
            {
                yield return update;
            }
            yield break;
        }
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var updates = Channel.CreateUnbounded<(Call Call, ChatResponseUpdate Update)>(new UnboundedChannelOptions { SingleReader = true });
        var pumps = calls.Select(call => PumpAsync(call, updates.Writer, stop)).ToList();
        _ = Task.WhenAll(pumps).ContinueWith(_ => updates.Writer.TryComplete(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        var usage = new List<UsageDetails>();
        var finished = new HashSet<int>();
        string? modelId = null;
        try
        {
            await foreach (var (call, update) in updates.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                // What the calls already wrote is not sent once the caller has cancelled (the channel hands out what it holds).
                cancellationToken.ThrowIfCancellationRequested();
                modelId ??= update.ModelId;
                if (update.Contents.OfType<UsageContent>().Any())
                {
                    usage.AddRange(update.Contents.OfType<UsageContent>().Select(u => u.Details));
                    update.Contents = [.. update.Contents.Where(c => c is not UsageContent)];
                }
                var choice = call.FirstChoice + LlmStackChatOptions.ChoiceOf(update);
                // Nothing left but the end of a choice already ended (a client that repeats the finish reason on its usage).
                if (update.Contents.Count == 0 && (update.FinishReason is null || !finished.Add(choice)))
                {
                    continue;
                }
                if (update.FinishReason is not null)
                {
                    finished.Add(choice);
                }
                yield return LlmStackChatOptions.SetChoice(update, choice);
            }
        }
        finally
        {
            // A no-op once every call ended; otherwise the caller stopped reading and what the calls hold is freed before it returns.
            await stop.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(pumps).ConfigureAwait(false);
        }
        if (LlmStackChatOptions.SumOf(usage) is { } total)
        {
            yield return new ChatResponseUpdate(ChatRole.Assistant, [new UsageContent(total)]) { ModelId = modelId };
        }
    }

    // Each call's updates into the one channel; its failure ends the reply (the first one written wins) and stops the others.
    private async Task PumpAsync(Call call, ChannelWriter<(Call, ChatResponseUpdate)> updates, CancellationTokenSource stop)
    {
        try
        {
            await foreach (var update in base.GetStreamingResponseAsync(call.Messages, call.Options, stop.Token).ConfigureAwait(false))
            {
                updates.TryWrite((call, update));
            }
        }
        catch (Exception error)
        {
            updates.TryComplete(error);
            await stop.CancelAsync().ConfigureAwait(false);
        }
    }

    // The calls a request is split into; null when the backend makes it as it is.
    private List<Call>? Split(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        var sequences = LlmStackChatOptions.ChoicesOf(options);
        // A chat is one "prompt": its conversation.
        var prompts = LlmStackChatOptions.RawPromptOf(messages, options)?.Prompts;
        var splitsPrompts = prompts is { Count: > 1 } && _splits.HasFlag(FanOut.Prompts);
        var n = sequences / (prompts?.Count ?? 1);
        var splitsChoices = n > 1 && _splits.HasFlag(prompts is null ? FanOut.ChatChoices : FanOut.CompletionChoices);
        if (!splitsPrompts && !splitsChoices)
        {
            return null;
        }
        IReadOnlyList<IList<ChatMessage>> conversations = prompts is null
            ? [[.. messages]]
            : [.. prompts.Select(prompt => (IList<ChatMessage>)[new ChatMessage(ChatRole.User, prompt)])];
        var callsPerPrompt = splitsChoices ? n : 1;
        var choicesPerCall = n / callsPerPrompt;
        var calls = new List<Call>(conversations.Count * callsPerPrompt);
        for (var p = 0; p < conversations.Count; p++)
        {
            for (var c = 0; c < callsPerPrompt; c++)
            {
                var split = options!.Clone();
                LlmStackChatOptions.SetChoices(split, choicesPerCall);
                if (splitsChoices && split.Seed is { } seed)
                {
                    split.Seed = unchecked(seed + c);
                }
                calls.Add(new Call(conversations[p], split, (p * callsPerPrompt + c) * choicesPerCall));
            }
        }
        return calls;
    }

    /// <param name="FirstChoice">The index of its first choice in the request's.</param>
    private sealed record Call(IList<ChatMessage> Messages, ChatOptions Options, int FirstChoice);
}
