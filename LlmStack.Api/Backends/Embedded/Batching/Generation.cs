using System.Threading.Channels;
using LLama;
using LLama.Native;
using LLama.Sampling;
using LlmStack.Api.Backends;
using Microsoft.Extensions.AI;

namespace LlmStack.Api.Backends.Embedded.Batching;

/// <summary>What the scheduler hands a request: text as it is generated, then one <see cref="GenerationFinished"/>.</summary>
internal abstract record GenerationEvent;

/// <summary>
/// Text ready to send (stop sequences already cut; empty only at the end, to carry the last tokens' log
/// probabilities), and, when the request asked, the log probabilities of the tokens it is made of.
/// </summary>
/// <param name="Choice">Which of the request's choices generated it (0 unless it asked for several).</param>
internal sealed record TextGenerated(string Text, IReadOnlyList<TokenLogprob>? Logprobs = null, int Choice = 0) : GenerationEvent;

/// <summary>The last event of a generation (one choice) that ended normally.</summary>
internal sealed record GenerationFinished(ChatFinishReason Reason, int PromptTokens, int CachedPromptTokens, int OutputTokens, int Choice = 0) : GenerationEvent;

/// <summary>What a request asks the scheduler to generate: the prompt's tokens and its own sampling, stops and limit.</summary>
/// <param name="TopLogprobs">When set, each token's log probability and this many alternatives are reported.</param>
internal sealed record GenerationRequest(LLamaToken[] Prompt, ISamplingPipeline Sampling, IEnumerable<string>? StopSequences, int? MaxOutputTokens, int? TopLogprobs = null);

/// <summary>
/// One request inside the <see cref="BatchScheduler"/>: its place in the queue, then its sequence, position and
/// sampling state while it generates. Everything but the channel's reader, <see cref="Cancel"/> and the
/// properties read by tests is touched by the scheduler's loop thread only.
/// </summary>
/// <remarks>
/// The choices of one request (<c>n</c> &gt; 1) are generations of one group: the first, the leader, reads the prompt;
/// the others (its followers) wait for it and then copy its KV instead of reading the prompt again, and sample their
/// first token from the same logits. The group writes to one channel, each event naming its choice, and it completes
/// when every choice has finished (or with the first failure).
/// </remarks>
internal sealed class Generation : IDisposable
{
    private readonly GroupEvents _events;
    private readonly TaskCompletionSource _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _cancelled;

    internal Generation(GenerationRequest request, StreamingTokenDecoder decoder, CancellationToken cancellationToken, Generation? leader = null)
    {
        Request = request;
        Decoder = decoder;
        Stops = new StopSequenceMatcher(request.StopSequences);
        CancellationToken = cancellationToken;
        if (leader is null)
        {
            _events = new GroupEvents();
        }
        else
        {
            _events = leader._events;
            Leader = leader;
            Choice = leader.Followers.Count + 1;
            leader.Followers.Add(this);
        }
        _events.Choices++;
    }

    /// <summary>
    /// The generated text, as the scheduler produces it (of every choice of the group); completes with the failure or
    /// cancellation, if any.
    /// </summary>
    public ChannelReader<GenerationEvent> Events => _events.Channel.Reader;

    /// <summary>Its index among the request's choices.</summary>
    internal int Choice { get; }

    /// <summary>The generation whose prompt this one waits for, to copy its KV; null once copied or when it reads its own.</summary>
    internal Generation? Leader { get; set; }

    /// <summary>The generations waiting for this one's prompt.</summary>
    internal List<Generation> Followers { get; } = [];

    /// <summary>Prompt tokens it still has to decode itself (a follower's come from its leader).</summary>
    internal int PromptToDecode => Leader is null ? Request.Prompt.Length - PromptDone : 0;

    internal GenerationRequest Request { get; }

    internal CancellationToken CancellationToken { get; }

    /// <summary>True once the request stopped listening (cancelled, or the reader was abandoned).</summary>
    internal bool IsCancelled => _cancelled || CancellationToken.IsCancellationRequested;

    internal StreamingTokenDecoder Decoder { get; }

    internal StopSequenceMatcher Stops { get; }

    /// <summary>The KV sequence it holds while admitted.</summary>
    internal KvSequence? Sequence { get; set; }

    /// <summary>Prompt tokens already in the KV cache (reused or decoded).</summary>
    internal int PromptDone { get; set; }

    /// <summary>Prompt tokens found in the cache at admission.</summary>
    internal int CachedPromptTokens { get; set; }

    internal bool IsPrefilling => PromptDone < Request.Prompt.Length;

    /// <summary>The token sampled last, to be decoded in the next step (not yet in the KV cache).</summary>
    internal LLamaToken? Pending { get; set; }

    /// <summary>Index of this generation's logits in the batch just decoded; -1 when it has none.</summary>
    internal int LogitsIndex { get; set; } = -1;

    internal int OutputTokens { get; set; }

    /// <summary>When it first had to wait for KV room (a <see cref="System.Diagnostics.Stopwatch"/> timestamp); null when it never had to.</summary>
    internal long? WaitingForRoomSince { get; set; }

    /// <summary>The scheduler's count of ended generations when it was put back in the queue for lack of KV room.</summary>
    internal long? RequeuedAt { get; set; }

    /// <summary>Completes once the scheduler is done with this generation (its sequence or queue place is free).</summary>
    public Task Ended => _ended.Task;

    /// <summary>Asks the scheduler to drop this generation; its sequence is freed within one step.</summary>
    public void Cancel() => _cancelled = true;

    /// <summary>Log probabilities of tokens sampled since the last text was sent (their text may still be held back).</summary>
    internal List<TokenLogprob> PendingLogprobs { get; } = [];

    internal void Emit(string text, bool last = false)
    {
        if (text.Length > 0 || (last && PendingLogprobs.Count > 0))
        {
            _events.Channel.Writer.TryWrite(new TextGenerated(text, PendingLogprobs.Count > 0 ? [.. PendingLogprobs] : null, Choice));
            PendingLogprobs.Clear();
        }
    }

    internal void Finish(ChatFinishReason reason)
    {
        if (Stops.Stopped)
        {
            // The tokens held back were the stop sequence's: cut from the text, so from its log probabilities too.
            PendingLogprobs.Clear();
        }
        Emit(Stops.Flush(), last: true);
        _events.Channel.Writer.TryWrite(new GenerationFinished(reason, Request.Prompt.Length, CachedPromptTokens, OutputTokens, Choice));
        if (--_events.Choices == 0)
        {
            _events.Channel.Writer.TryComplete();
        }
    }

    /// <summary>Ends the request: one choice's failure is the request's.</summary>
    internal void Fail(Exception error) => _events.Channel.Writer.TryComplete(error);

    internal CancellationTokenRegistration CancellationRegistration { get; init; }

    /// <summary>Frees the native sampler chain; called by the scheduler once the generation is over.</summary>
    public void Dispose()
    {
        CancellationRegistration.Dispose();
        Request.Sampling.Dispose();
        _ended.TrySetResult();
    }

    // One channel for the choices of a request, written by the scheduler's loop thread only.
    private sealed class GroupEvents
    {
        public Channel<GenerationEvent> Channel { get; } = System.Threading.Channels.Channel.CreateUnbounded<GenerationEvent>(
            new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });

        /// <summary>Choices not finished yet.</summary>
        public int Choices { get; set; }
    }
}
