using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using LLama;
using LLama.Native;
using LlmStack.Api.Errors;
using Microsoft.Extensions.AI;

namespace LlmStack.Api.Backends.Embedded.Batching;

/// <summary>
/// Continuous batching for one embedded model: a single llama.cpp context holding one sequence per slot, and one
/// loop thread that owns it. Each step decodes, in one <c>llama_decode</c>, the next token of every generating
/// sequence plus a chunk of the prompts being processed (at most <see cref="BatchSettings.StepTokens"/> tokens in
/// all, so a long prompt never stalls the streams), then samples each sequence with its own pipeline and hands the
/// text to its request through a channel. Requests never call llama.cpp themselves.
/// </summary>
/// <remarks>
/// On a CPU a decode step is bound by reading the weights: one step for eight sequences reads them once, which is
/// why this beats one context per request (LLamaSharp serialises every decode of the process anyway). Requests are
/// admitted in arrival order (FIFO) when a sequence is free and the KV cache has room; a cancelled or finished
/// request frees its sequence within one step, and its KV stays cached for the next turn (see
/// <see cref="KvSequences"/>). The API's admission gate above the backend bounds and measures the queue
/// (<c>llmstack_requests_queued</c>, queue time); the waiting here is only for a sequence or KV room, and a wait for
/// room is bounded too (<see cref="BatchSettings.RoomTimeout"/>, then 503 <c>model_overloaded</c>).
/// <para>
/// The choices of one request (<c>n</c>) are admitted together, once that many sequences are free: the first reads the
/// prompt, the others then copy its KV (<see cref="KvSequences.CopyPrefix"/>) and sample their first token from the
/// same logits, so the prompt is evaluated once (<see cref="PromptTokensDecoded"/>).
/// </para>
/// <para>
/// A full KV cache never answers with nothing: when the generating sequences outgrow it, a request that has not
/// produced a token yet (still reading its prompt) goes back to the head of the queue and waits until another
/// generation ends; only a request that has produced tokens is cut, its reply standing with finish reason
/// <c>length</c>. A prompt the cache cannot hold even alone is a 400 <c>context_length_exceeded</c>.
/// </para>
/// </remarks>
internal sealed class BatchScheduler : IDisposable
{
    private readonly LLamaWeights _weights;
    private readonly SafeLLamaContextHandle _context;
    private readonly KvSequences _sequences;
    private readonly ILogger? _logger;
    private readonly IDisposable? _abort;

    private readonly ConcurrentQueue<Generation> _incoming = new();
    private readonly ManualResetEventSlim _signal = new(false);
    private readonly CancellationTokenSource _shutdown = new();
    private readonly Thread _loop;
    private readonly Lock _gate = new();

    // Owned by the loop thread.
    private readonly LinkedList<Generation> _waiting = new();
    private readonly List<Generation> _active = [];
    private readonly List<(Generation Generation, int Tokens)> _batched = [];
    private readonly List<Generation> _sampled = [];
    private readonly LLamaBatch _batch = new();
    private readonly StepCost _cost = new();

    private readonly string _modelId;
    private int _queued;
    private int _busy;
    private long _steps;
    private long _requeued;
    private long _promptTokensDecoded;
    // Generations ended so far (each frees KV cells): one put back for lack of room waits for the next.
    private long _ended;

    public BatchScheduler(string modelId, LLamaWeights weights, SafeLLamaContextHandle context, BatchSettings settings, ILogger? logger = null)
    {
        _modelId = modelId;
        _weights = weights;
        _context = context;
        Settings = settings;
        _sequences = new KvSequences(context, settings.Slots, settings.ReuseSimilarity, new HostKvCache(settings.HostCacheBytes), logger);
        _logger = logger;
        // Interrupts a decode in progress (a prompt chunk of a large model takes seconds) at shutdown, and when
        // every request in the step has been cancelled: then nobody waits for its result.
        _abort = DecodeAbort.Register(context, ShouldAbortStep, logger);
        _loop = new Thread(Run) { IsBackground = true, Name = $"llama batch loop ({modelId})" };
        _loop.Start();
    }

    public BatchSettings Settings { get; }

    /// <summary>Sequences (concurrent generations) this scheduler runs.</summary>
    public int Capacity => Settings.Slots;

    /// <summary>Requests waiting for a sequence now.</summary>
    public int Queued => Volatile.Read(ref _queued);

    /// <summary>Sequences not held by a request now.</summary>
    public int Free => Settings.Slots - Volatile.Read(ref _busy);

    /// <summary>Decode steps run so far.</summary>
    public long Steps => Interlocked.Read(ref _steps);

    /// <summary>Prompt tokens decoded so far (those found in the KV cache or copied from another sequence are not).</summary>
    public long PromptTokensDecoded => Interlocked.Read(ref _promptTokensDecoded);

    /// <summary>Requests put back in the queue so far because the KV cache filled before they produced a token.</summary>
    public long Requeued => Interlocked.Read(ref _requeued);

    /// <summary>The prompt cache's figures so far: tokens found live, in host memory and nowhere, evictions, host memory held.</summary>
    public PrefixCacheStats PrefixCache => new(_sequences.KvHitTokens, _sequences.HostHitTokens, _sequences.MissTokens,
        _sequences.Evictions, _sequences.Host.Evictions, _sequences.Host.Bytes, _sequences.Host.Count);

    /// <summary>
    /// Queues a generation (FIFO). Read its <see cref="Generation.Events"/>; call <see cref="Generation.Cancel"/>
    /// when no longer listening. The scheduler owns <see cref="GenerationRequest.Sampling"/> from here on.
    /// </summary>
    public Generation Submit(GenerationRequest request, CancellationToken cancellationToken) => Submit([request], cancellationToken)[0];

    /// <summary>
    /// Queues the choices of one request (<c>n</c> of them, the same prompt): they are admitted together, when as many
    /// sequences are free; the first reads the prompt and the others copy its KV (one prompt evaluation), then all of
    /// them generate in the same steps. They share one <see cref="Generation.Events"/> channel.
    /// </summary>
    public IReadOnlyList<Generation> Submit(IReadOnlyList<GenerationRequest> choices, CancellationToken cancellationToken)
    {
        if (choices.Count > Settings.Slots)
        {
            throw new ArgumentOutOfRangeException(nameof(choices), $"{choices.Count} choices cannot run at once on {Settings.Slots} sequences.");
        }
        var group = new List<Generation>(choices.Count);
        foreach (var request in choices)
        {
            group.Add(new Generation(request, new StreamingTokenDecoder(Encoding.UTF8, _weights), cancellationToken, leader: group.Count > 0 ? group[0] : null)
            {
                CancellationRegistration = cancellationToken.UnsafeRegister(static state => ((BatchScheduler)state!).Wake(), this),
            });
        }
        // Under the gate, so a generation is either refused or seen by the loop before it stops.
        lock (_gate)
        {
            if (_shutdown.IsCancellationRequested)
            {
                foreach (var generation in group)
                {
                    generation.CancellationRegistration.Dispose();
                }
                throw new ObjectDisposedException(nameof(BatchScheduler), "The model was unloaded (the API is stopping).");
            }
            foreach (var generation in group)
            {
                Interlocked.Increment(ref _queued);
                _incoming.Enqueue(generation);
            }
        }
        Wake();
        return group;
    }

    /// <summary>Tells the loop a generation was cancelled or abandoned.</summary>
    public void Wake() => _signal.Set();

    public void Dispose()
    {
        lock (_gate)
        {
            if (_shutdown.IsCancellationRequested)
            {
                return;
            }
            _shutdown.Cancel();
        }
        _signal.Set();
        if (!_loop.Join(TimeSpan.FromSeconds(30)))
        {
            // Freeing the context under a running decode would crash the process; leaking it is the lesser harm.
            _logger?.LogError("The batch loop did not stop within 30 s; its llama.cpp context is not freed");
            return;
        }
        _abort?.Dispose();
        _context.Dispose();
    }

    private void Run()
    {
        while (!_shutdown.IsCancellationRequested)
        {
            try
            {
                // Reset before looking, so a Submit or Cancel that lands after the look wakes the wait below.
                _signal.Reset();
                Intake();
                DropCancelled();
                ExpireRoomWaits();
                Admit();
                if (_active.Count == 0)
                {
                    if (_incoming.IsEmpty)
                    {
                        _signal.Wait(_shutdown.Token);
                    }
                    continue;
                }
                // Idle conversations left in the live cache would widen every step of the running requests.
                _sequences.ParkIdle();
                Step();
            }
            catch (OperationCanceledException) when (_shutdown.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                // A failure in one step must not end the loop of every future request.
                _logger?.LogError(ex, "Batch step failed; its generations are ended with the error");
                foreach (var generation in _active.ToList())
                {
                    End(generation, () => generation.Fail(ex));
                }
            }
        }

        var stopped = new ObjectDisposedException(nameof(BatchScheduler), "The model was unloaded (the API is stopping).");
        Intake();
        foreach (var generation in _waiting.ToList())
        {
            Dequeue(generation);
            generation.Fail(stopped);
            generation.Dispose();
        }
        foreach (var generation in _active.ToList())
        {
            End(generation, () => generation.Fail(stopped));
        }
    }

    private void Intake()
    {
        while (_incoming.TryDequeue(out var generation))
        {
            _waiting.AddLast(generation);
        }
    }

    private void DropCancelled()
    {
        for (var node = _waiting.First; node is not null;)
        {
            var next = node.Next;
            if (node.Value.IsCancelled)
            {
                var generation = node.Value;
                Detach(generation);
                Dequeue(generation);
                generation.Fail(new OperationCanceledException(generation.CancellationToken));
                generation.Dispose();
            }
            node = next;
        }
        foreach (var generation in _active.Where(g => g.IsCancelled).ToList())
        {
            End(generation, () => generation.Fail(new OperationCanceledException(generation.CancellationToken)));
        }
    }

    // Strictly in arrival order: the oldest waiter gets the next free sequence once the KV cache has room for the
    // part of its prompt that is not cached yet - idle conversations are evicted (least recently used first, saved to
    // host memory) to make room; when running requests hold the cache, the waiter waits for them. A state restored from
    // host memory is held in cells of its own: when even that does not fit, the prompt is computed instead. The choices
    // of one request are admitted together, once there are sequences for all of them; only the leader's prompt needs
    // room (the followers copy its cells).
    private void Admit()
    {
        while (_waiting.First is { } first)
        {
            var head = first.Value.Leader ?? first.Value;
            if (_sequences.Free < 1 + head.Followers.Count || head.RequeuedAt == _ended)
            {
                return;
            }
            var prompt = head.Request.Prompt;
            // Admitted prompts not yet processed have their room reserved too.
            var reserved = _active.Sum(g => g.PromptToDecode);
            var fromHost = HasRoomFor(prompt, reserved, fromHost: true);
            if (!fromHost && !HasRoomFor(prompt, reserved, fromHost: false) && _active.Count > 0)
            {
                head.WaitingForRoomSince ??= Stopwatch.GetTimestamp();
                return;
            }
            // The leader first: its sequence is the one the followers copy (from the live cache, never from host memory).
            foreach (var generation in (IEnumerable<Generation>)[head, .. head.Followers])
            {
                _sequences.TryAssign(generation, fromHost: generation == head && fromHost);
                Dequeue(generation);
                _active.Add(generation);
                Interlocked.Increment(ref _busy);
            }
        }
    }

    // Evicts idle conversations (not the ones the prompt would start from) until the prompt's plan fits the cache.
    private bool HasRoomFor(LLamaToken[] prompt, int reserved, bool fromHost)
    {
        var plan = _sequences.PlanFor(prompt, fromHost)!;
        while (_sequences.UsedCells + plan.NewCells(prompt.Length) + reserved > Settings.KvCacheTokens
            && _sequences.EvictIdle(keep: plan.Source, alsoKeep: plan.Continued ? plan.Target : null))
        {
            plan = _sequences.PlanFor(prompt, fromHost)!;
        }
        return _sequences.UsedCells + plan.NewCells(prompt.Length) + reserved <= Settings.KvCacheTokens;
    }

    // A wait for KV room ends at RoomTimeout with 503: the cache is held by generations that may run for minutes.
    private void ExpireRoomWaits()
    {
        for (var node = _waiting.First; node is not null; node = node.Next)
        {
            if (node.Value.WaitingForRoomSince is { } since && Stopwatch.GetElapsedTime(since) >= Settings.RoomTimeout)
            {
                // With its followers, which wait on the same room: the request fails as a whole.
                var generation = node.Value;
                var error = ApiErrorException.ModelOverloaded(_modelId,
                    $"its KV cache ({Settings.KvCacheTokens} tokens) has had no room for this prompt of {generation.Request.Prompt.Length} tokens for {Settings.RoomTimeout.TotalSeconds:0.###} s (QueueTimeout).",
                    RoomRetryAfter);
                foreach (var expired in (List<Generation>)[generation, .. generation.Followers])
                {
                    Detach(expired);
                    Dequeue(expired);
                    expired.Fail(error);
                    expired.Dispose();
                }
                // The list changed behind the node: look again from the start.
                ExpireRoomWaits();
                return;
            }
        }
    }

    /// <summary>The <c>Retry-After</c> of a request refused for lack of KV room.</summary>
    public static readonly TimeSpan RoomRetryAfter = TimeSpan.FromSeconds(5);

    // Back to the head of the queue (it arrived before every waiter): its sequence is released, so its cells can be
    // evicted, and it is admitted again once a generation has ended. Its followers (waiting for its prompt) go with it.
    private void Requeue(Generation generation)
    {
        foreach (var follower in generation.Followers.AsEnumerable().Reverse())
        {
            RequeueOne(follower);
        }
        RequeueOne(generation);
    }

    private void RequeueOne(Generation generation)
    {
        _sequences.Release(generation.Sequence!);
        generation.Sequence = null;
        _active.Remove(generation);
        Interlocked.Decrement(ref _busy);
        generation.PromptDone = 0;
        generation.CachedPromptTokens = 0;
        generation.LogitsIndex = -1;
        generation.RequeuedAt = _ended;
        generation.WaitingForRoomSince ??= Stopwatch.GetTimestamp();
        _waiting.AddFirst(generation);
        Interlocked.Increment(ref _queued);
        Interlocked.Increment(ref _requeued);
    }

    // The KV cache cannot take the step: the newest request without a token waits for room (or, when it is alone in
    // the cache, can never fit); without one, the newest generating request ends with its reply so far.
    private void MakeRoom()
    {
        // A request's followers go with their leader (they wait for its prompt).
        if (_active.LastOrDefault(g => g.OutputTokens == 0 && g.Leader is null) is { } unstarted)
        {
            if (_active.Count > 1 + unstarted.Followers.Count)
            {
                _logger?.LogInformation("The KV cache ({Cells} tokens) is full with {Active} requests: one still reading its prompt waits for room", Settings.KvCacheTokens, _active.Count);
                Requeue(unstarted);
                return;
            }
            var held = Math.Max(_sequences.UsedCells, 1);
            var error = ApiErrorException.ContextLengthExceeded(unstarted.Request.Prompt.Length, Math.Min(held, Settings.SequenceContext));
            foreach (var generation in (List<Generation>)[.. unstarted.Followers, unstarted])
            {
                End(generation, () => generation.Fail(error));
            }
            return;
        }
        // Its reply so far stands, cut like a reply that fills its context.
        var newest = _active[^1];
        _logger?.LogWarning("The KV cache ({Cells} tokens) is full with {Active} generating requests: the newest one ends with finish reason length. Raise KvCacheSize or lower ParallelSlots.",
            Settings.KvCacheTokens, _active.Count);
        End(newest, () => newest.Finish(ChatFinishReason.Length));
    }

    private void Dequeue(Generation generation)
    {
        _waiting.Remove(generation);
        Interlocked.Decrement(ref _queued);
    }

    private void Step()
    {
        var withPrompts = true;
        while (true)
        {
            Fill(withPrompts);
            if (_batch.TokenCount == 0)
            {
                if (!withPrompts && _active.Count > 0)
                {
                    // Only prompts were left and even they found no room (admission reserves it, so llama.cpp's
                    // cache is smaller than counted): the newest waits, or fails when it is alone.
                    MakeRoom();
                    withPrompts = true;
                    continue;
                }
                return;
            }
            var started = Stopwatch.GetTimestamp();
            var result = _context.Decode(_batch);
            if (result == DecodeResult.Ok)
            {
                _cost.Record(_batch.TokenCount, Stopwatch.GetElapsedTime(started));
                break;
            }
            // A failed decode may have stored part of the batch; the cache must match each sequence's tokens.
            foreach (var (generation, _) in _batched)
            {
                _sequences.Resync(generation.Sequence!);
            }
            if (result == DecodeResult.ComputeAborted && _shutdown.IsCancellationRequested)
            {
                throw new OperationCanceledException(_shutdown.Token);
            }
            if (result == DecodeResult.ComputeAborted && AllCancelled())
            {
                // Ended with their cancellation at the start of the next step.
                return;
            }
            if (result != DecodeResult.NoKvSlot)
            {
                var error = new InvalidOperationException($"llama.cpp failed to decode: {result}.");
                foreach (var (generation, _) in _batched.ToList())
                {
                    End(generation, () => generation.Fail(error));
                }
                return;
            }
            // The KV cache is full: first forget idle conversations, then hold prompts back, and only when the
            // generating sequences alone do not fit, end the newest one with a clear error.
            if (_sequences.EvictIdle())
            {
                continue;
            }
            if (withPrompts && _batched.Any(b => b.Generation.IsPrefilling))
            {
                withPrompts = false;
                continue;
            }
            MakeRoom();
            withPrompts = true;
        }
        Interlocked.Increment(ref _steps);

        _sampled.Clear();
        foreach (var (generation, tokens) in _batched)
        {
            var sequence = generation.Sequence!;
            if (generation.IsPrefilling)
            {
                _sequences.Append(sequence, generation.Request.Prompt.AsSpan(generation.PromptDone, tokens));
                generation.PromptDone += tokens;
                Interlocked.Add(ref _promptTokensDecoded, tokens);
            }
            else
            {
                _sequences.Append(sequence, [generation.Pending!.Value]);
            }
            if (generation.LogitsIndex >= 0)
            {
                _sampled.Add(generation);
                if (!generation.IsPrefilling)
                {
                    JoinFollowers(generation);
                }
            }
        }
        foreach (var generation in _sampled)
        {
            try
            {
                Sample(generation);
            }
            catch (Exception ex)
            {
                // Sampling is the request's own (its grammar, its settings): a failure there ends that request only,
                // while the others in the step go on sampling.
                _logger?.LogError(ex, "Sampling failed for one request of the batch; it ends with the error and the others continue");
                End(generation, () => generation.Fail(ex));
            }
        }
    }

    // The leader's prompt is in the cache: each follower copies its KV (the cells are shared, not recomputed) and
    // samples its first token from the same logits, with its own sampling.
    private void JoinFollowers(Generation leader)
    {
        foreach (var follower in leader.Followers)
        {
            _sequences.CopyPrefix(leader.Sequence!, follower.Sequence!, leader.Request.Prompt.Length);
            follower.PromptDone = leader.Request.Prompt.Length;
            follower.LogitsIndex = leader.LogitsIndex;
            follower.Leader = null;
            _sampled.Add(follower);
        }
        leader.Followers.Clear();
    }

    // Called by llama.cpp during a decode, while the loop thread waits in it: _batched does not change meanwhile.
    private bool ShouldAbortStep() => _shutdown.IsCancellationRequested || AllCancelled();

    private bool AllCancelled()
    {
        foreach (var (generation, _) in _batched)
        {
            if (!generation.IsCancelled)
            {
                return false;
            }
        }
        return _batched.Count > 0;
    }

    // The next token of every generating sequence, then prompt chunks in arrival order up to the step's budget.
    // Without generating sequences a prompt takes a whole batch: nobody waits on the step.
    private void Fill(bool withPrompts)
    {
        _batch.Clear();
        _batched.Clear();
        foreach (var generation in _active)
        {
            generation.LogitsIndex = -1;
            if (!generation.IsPrefilling)
            {
                var sequence = generation.Sequence!;
                generation.LogitsIndex = _batch.Add(generation.Pending!.Value, sequence.Tokens.Count, sequence.Id, logits: true);
                _batched.Add((generation, 1));
            }
        }
        if (!withPrompts)
        {
            return;
        }
        var budget = (_batched.Count > 0 ? StepBudget() : Settings.PromptBatch) - _batch.TokenCount;
        foreach (var generation in _active)
        {
            if (budget <= 0)
            {
                break;
            }
            if (generation.PromptToDecode == 0)
            {
                continue;
            }
            var prompt = generation.Request.Prompt;
            var count = Math.Min(budget, prompt.Length - generation.PromptDone);
            var last = generation.PromptDone + count == prompt.Length;
            var index = _batch.AddRange(prompt.AsSpan(generation.PromptDone, count), generation.PromptDone, generation.Sequence!.Id, logitsLast: last);
            generation.LogitsIndex = last ? index : -1;
            _batched.Add((generation, count));
            budget -= count;
        }
    }

    // While streams generate: the tokens a step can carry within TargetTokenGap at the cost measured so far - at least
    // StepTokens, so prompts always progress, and at most BatchSize; StepTokens alone when no target is set.
    private int StepBudget()
    {
        var floor = Settings.StepFloor;
        if (Settings.TargetTokenGap <= TimeSpan.Zero || _cost.TokensWithin(Settings.TargetTokenGap) is not { } fits)
        {
            return floor;
        }
        return Math.Clamp(fits, floor, Settings.MaxDecodeTokens);
    }

    private void Sample(Generation generation)
    {
        var token = generation.Request.Sampling.Sample(_context, generation.LogitsIndex);
        if (token.IsEndOfGeneration(_weights.Vocab))
        {
            End(generation, () => generation.Finish(ChatFinishReason.Stop));
            return;
        }
        if (generation.Request.TopLogprobs is { } top)
        {
            // The sampler reads the logits without changing them: they are the model's distribution here.
            generation.PendingLogprobs.Add(TokenDistribution.Of(_context.GetLogitsIth(generation.LogitsIndex), token, top, _weights));
        }
        generation.OutputTokens++;
        generation.Decoder.Add(token);
        generation.Emit(generation.Stops.Push(generation.Decoder.Read()));
        if (generation.Stops.Stopped)
        {
            End(generation, () => generation.Finish(ChatFinishReason.Stop));
        }
        // The token would be decoded at position Tokens.Count: it must fit the sequence's context.
        else if (generation.OutputTokens == generation.Request.MaxOutputTokens || generation.Sequence!.Tokens.Count + 1 >= Settings.SequenceContext)
        {
            End(generation, () => generation.Finish(ChatFinishReason.Length));
        }
        else
        {
            generation.Pending = token;
        }
    }

    // Takes a generation that ends out of its group: followers still waiting for its prompt read it themselves.
    private static void Detach(Generation generation)
    {
        foreach (var follower in generation.Followers)
        {
            follower.Leader = null;
        }
        generation.Followers.Clear();
        if (generation.Leader is { } leader)
        {
            leader.Followers.Remove(generation);
            generation.Leader = null;
        }
    }

    // Releases the generation's sequence (its KV stays cached) before telling the request, so a request that
    // starts as soon as this one ends finds the sequence free.
    private void End(Generation generation, Action tell)
    {
        Detach(generation);
        if (generation.Sequence is { } sequence)
        {
            _sequences.Release(sequence);
            generation.Sequence = null;
        }
        if (_active.Remove(generation))
        {
            Interlocked.Decrement(ref _busy);
            _ended++;
        }
        tell();
        generation.Dispose();
    }
}
