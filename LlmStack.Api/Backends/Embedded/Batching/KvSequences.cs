using System.Runtime.InteropServices;
using LLama.Native;

namespace LlmStack.Api.Backends.Embedded.Batching;

/// <summary>One llama.cpp sequence of the scheduler's context, and the tokens whose KV it holds.</summary>
internal sealed class KvSequence(LLamaSeqId id)
{
    // The KV cell of each token: a prefix copied from another sequence shares that sequence's cells.
    internal readonly List<long> Cells = [];
    internal readonly List<LLamaToken> TokenList = [];

    public LLamaSeqId Id { get; } = id;

    /// <summary>Tokens in the KV cache at positions 0..Count-1; a finished request's stay for the next turn.</summary>
    public IReadOnlyList<LLamaToken> Tokens => TokenList;

    /// <summary>The generation using it now; null when idle.</summary>
    public Generation? Owner { get; set; }

    /// <summary>Prompt tokens of the request it was last given: the tokens after them are that request's reply.</summary>
    public int LastPromptLength { get; set; }

    /// <summary>When it was last assigned or released (a logical clock): the idle sequence used longest ago goes first.</summary>
    public long LastUsed { get; set; }

    public int CommonPrefix(ReadOnlySpan<LLamaToken> prompt)
    {
        var length = Math.Min(TokenList.Count, prompt.Length);
        var i = 0;
        while (i < length && TokenList[i] == prompt[i])
        {
            i++;
        }
        return i;
    }
}

/// <summary>What the prompt cache of a scheduler has done so far (<c>llmstack_prefix_cache_*</c>).</summary>
/// <param name="KvHitTokens">Prompt tokens admitted requests found in a live sequence (continued or copied).</param>
/// <param name="HostHitTokens">Prompt tokens admitted requests found in host memory (restored).</param>
/// <param name="MissTokens">Prompt tokens admitted requests found nowhere (computed).</param>
/// <param name="KvEvictions">Idle conversations dropped from the KV cache.</param>
/// <param name="HostEvictions">Saved conversations dropped from host memory to keep within its budget.</param>
/// <param name="HostBytes">Host memory held by saved conversations now.</param>
/// <param name="HostEntries">Saved conversations now.</param>
internal readonly record struct PrefixCacheStats(long KvHitTokens, long HostHitTokens, long MissTokens, long KvEvictions, long HostEvictions, long HostBytes, int HostEntries);

/// <summary>Where a prompt admitted now would go: the sequence it takes, and where the cached prefix it starts with comes from.</summary>
/// <param name="Target">The idle sequence it takes.</param>
/// <param name="Continued">True when it continues what <paramref name="Target"/> holds (the next turn of that conversation).</param>
/// <param name="Source">Another live sequence whose prefix is copied into the target; null when none is.</param>
/// <param name="Restore">A state saved in host memory restored into the target; null when none is.</param>
/// <param name="Cached">Prompt tokens the request starts with in the cache.</param>
internal sealed record KvPlan(KvSequence Target, bool Continued, KvSequence? Source, HostKvCache.Entry? Restore, int Cached)
{
    /// <summary>KV cells the assignment may add to what is held now (a copied or continued prefix is already held; a restored state is held anew).</summary>
    public int NewCells(int promptLength) => Restore is { } entry ? Math.Max(entry.Tokens.Length, promptLength) : promptLength - Cached;
}

/// <summary>
/// The sequences of the scheduler's context (one per slot) and their cached KV, so that many conversations keep
/// theirs. A finished request's sequence keeps its KV; a new request continues an idle sequence only when the prompt
/// shares a prefix worth it - at least <see cref="ReuseSimilarity"/> of what that sequence holds (the next turn of
/// its conversation, a retry) - and otherwise takes an empty sequence, or else the idle one used longest ago (LRU),
/// so one conversation never overwrites another for the sake of the chat template's opening tokens. Whatever
/// sequence it takes, the longest prefix of its prompt held anywhere - busy or idle, e.g. a long system prompt or
/// tool list - is copied into it (<c>llama_memory_seq_cp</c>), not recomputed.
/// <para>
/// A conversation whose sequence is taken or evicted is saved to host memory first (<see cref="HostKvCache"/>), and a
/// prompt that starts with more of a saved state than any live sequence holds gets that state restored into its
/// sequence: the live cache holds as many conversations as there are slots, host memory as many as its budget.
/// While requests run, idle conversations are moved to host memory at once (<see cref="ParkIdle"/>): llama.cpp's
/// attention spans every cell up to the highest one in use, so the live cache should hold what the running requests
/// need and little else.
/// </para>
/// </summary>
/// <remarks>
/// The context's KV cache is unified: a copied prefix shares its cells with the sequence it came from, and a cell is
/// free only when no sequence holds it. The cells are counted that way here (<see cref="UsedCells"/>), so admission
/// sees the room the cache really has.
/// </remarks>
internal sealed class KvSequences(SafeLLamaContextHandle context, int count, double reuseSimilarity, HostKvCache host, ILogger? logger = null)
{
    private readonly KvSequence[] _sequences = [.. Enumerable.Range(0, count).Select(i => new KvSequence((LLamaSeqId)i))];
    private readonly Dictionary<long, int> _cellHolders = [];
    private long _clock;
    private long _nextCell;
    private long _kvHitTokens;
    private long _hostHitTokens;
    private long _missTokens;
    private long _evictions;

    /// <summary>The share of an idle sequence's tokens a prompt must start with for the sequence to be continued.</summary>
    public double ReuseSimilarity { get; } = reuseSimilarity;

    /// <summary>Conversations saved in host memory.</summary>
    public HostKvCache Host { get; } = host;

    public int Free => _sequences.Count(s => s.Owner is null);

    /// <summary>KV cells in use: a prefix shared by copy is counted once, as llama.cpp's unified cache stores it.</summary>
    public int UsedCells => _cellHolders.Count;

    public IReadOnlyList<KvSequence> All => _sequences;

    /// <summary>Prompt tokens admitted requests found in a live sequence (continued or copied).</summary>
    public long KvHitTokens => Interlocked.Read(ref _kvHitTokens);

    /// <summary>Prompt tokens admitted requests found in host memory (restored).</summary>
    public long HostHitTokens => Interlocked.Read(ref _hostHitTokens);

    /// <summary>Prompt tokens admitted requests found nowhere: computed.</summary>
    public long MissTokens => Interlocked.Read(ref _missTokens);

    /// <summary>Idle conversations whose KV was dropped from the live cache (for another conversation, for room, or moved to host memory while requests run).</summary>
    public long Evictions => Interlocked.Read(ref _evictions);

    /// <summary>The longest prefix of <paramref name="prompt"/> any sequence holds, and the sequence holding it.</summary>
    public (KvSequence? Holder, int Length) LongestPrefix(ReadOnlySpan<LLamaToken> prompt)
    {
        KvSequence? holder = null;
        var length = 0;
        foreach (var sequence in _sequences)
        {
            var prefix = sequence.CommonPrefix(prompt);
            if (prefix > length)
            {
                (holder, length) = (sequence, prefix);
            }
        }
        return (holder, length);
    }

    /// <summary>
    /// The idle sequence <paramref name="prompt"/> would take: one worth continuing (the longest such prefix), else an
    /// empty one, else the one used longest ago; null when none is idle.
    /// </summary>
    public (KvSequence? Target, bool Continued) TargetFor(ReadOnlySpan<LLamaToken> prompt)
    {
        KvSequence? continued = null;
        var continuedPrefix = 0;
        KvSequence? empty = null;
        KvSequence? oldest = null;
        foreach (var sequence in _sequences)
        {
            if (sequence.Owner is not null)
            {
                continue;
            }
            if (sequence.Tokens.Count == 0)
            {
                empty ??= sequence;
                continue;
            }
            var prefix = sequence.CommonPrefix(prompt);
            if (prefix > continuedPrefix && prefix >= ReuseSimilarity * sequence.Tokens.Count)
            {
                (continued, continuedPrefix) = (sequence, prefix);
            }
            if (oldest is null || sequence.LastUsed < oldest.LastUsed)
            {
                oldest = sequence;
            }
        }
        return continued is not null ? (continued, true) : (empty ?? oldest, false);
    }

    /// <summary>
    /// Where <paramref name="prompt"/> would go now (<see cref="TargetFor"/>) and the longest cached prefix it would
    /// start with: the target's own, one copied from another sequence, or - with <paramref name="fromHost"/> - a state
    /// saved in host memory; null when no sequence is idle.
    /// </summary>
    public KvPlan? PlanFor(ReadOnlySpan<LLamaToken> prompt, bool fromHost = true)
    {
        if (TargetFor(prompt) is not ({ } target, var continued))
        {
            return null;
        }
        // The last prompt token is always decoded again: its logits give the first new token.
        var limit = prompt.Length - 1;
        var keep = Math.Min(target.CommonPrefix(prompt), limit);
        var (source, sourcePrefix) = LongestPrefix(prompt);
        var shared = Math.Min(sourcePrefix, limit);
        var live = source is not null && source != target && shared > keep
            ? new KvPlan(target, continued, source, null, shared)
            : new KvPlan(target, continued, null, null, keep);
        if (fromHost && Host.LongestPrefix(prompt) is ({ } entry, var saved) && Math.Min(saved, limit) > live.Cached)
        {
            return new KvPlan(target, continued, null, entry, Math.Min(saved, limit));
        }
        return live;
    }

    /// <summary>Gives <paramref name="generation"/> the sequence <see cref="PlanFor"/> picks, with as much of its prompt as the cache holds; false when none is idle.</summary>
    public bool TryAssign(Generation generation, bool fromHost = true)
    {
        var prompt = generation.Request.Prompt;
        if (PlanFor(prompt, fromHost) is not { } plan)
        {
            return false;
        }
        var target = plan.Target;
        var keep = plan.Cached;
        var restored = false;
        if (!plan.Continued && target.Tokens.Count > 0)
        {
            // The target holds another conversation: it goes to host memory before its cells are reused (all but the
            // prefix it shares with this prompt, when that is what the prompt starts from).
            Evict(target, plan.Source is null && plan.Restore is null ? keep : 0);
        }
        if (plan.Restore is { } entry)
        {
            Truncate(target, 0);
            restored = Restore(target, entry);
            if (restored)
            {
                Truncate(target, keep);
                // A prompt holding the saved conversation's last prompt whole is its next turn (or a retry): the
                // conversation lives in the sequence now, saved again, longer, when evicted. A state whose prefix only
                // served another prompt (a shared system prompt) stays saved for its own conversation.
                Host.Used(entry, whole: keep >= Math.Min(entry.PromptLength, prompt.Length - 1));
            }
            else
            {
                // No room for the state after all (llama.cpp found too few free cells): it stays saved, the prompt is computed.
                plan = PlanFor(prompt, fromHost: false)!;
                (target, keep) = (plan.Target, plan.Cached);
            }
        }
        if (!restored)
        {
            if (plan.Source is { } source)
            {
                Truncate(target, 0);
                context.MemorySequenceCopy(source.Id, target.Id, 0, keep);
                for (var i = 0; i < keep; i++)
                {
                    Hold(target, source.TokenList[i], source.Cells[i]);
                }
            }
            else
            {
                Truncate(target, keep);
            }
        }

        target.Owner = generation;
        target.LastUsed = ++_clock;
        target.LastPromptLength = prompt.Length;
        generation.Sequence = target;
        generation.PromptDone = keep;
        generation.CachedPromptTokens = keep;
        // Counted at its first admission only: a request put back for room is admitted again with its own tokens cached.
        if (generation.RequeuedAt is null)
        {
            if (restored)
            {
                Interlocked.Add(ref _hostHitTokens, keep);
            }
            else
            {
                Interlocked.Add(ref _kvHitTokens, keep);
            }
            Interlocked.Add(ref _missTokens, prompt.Length - keep);
        }
        return true;
    }

    /// <summary>
    /// Extends <paramref name="target"/>, which holds a prefix of <paramref name="source"/>'s tokens, to the first
    /// <paramref name="length"/> of them by copying the source's KV: the cells are shared, nothing is decoded.
    /// </summary>
    public void CopyPrefix(KvSequence source, KvSequence target, int length)
    {
        var from = target.Tokens.Count;
        if (from >= length)
        {
            return;
        }
        context.MemorySequenceCopy(source.Id, target.Id, from, length);
        for (var i = from; i < length; i++)
        {
            Hold(target, source.TokenList[i], source.Cells[i]);
        }
    }

    /// <summary>Records tokens just decoded into <paramref name="sequence"/> (each in a new cell).</summary>
    public void Append(KvSequence sequence, ReadOnlySpan<LLamaToken> tokens)
    {
        foreach (var token in tokens)
        {
            Hold(sequence, token, _nextCell++);
        }
    }

    /// <summary>Makes the sequence idle; its KV stays cached for a later request.</summary>
    public void Release(KvSequence sequence)
    {
        sequence.Owner = null;
        sequence.LastUsed = ++_clock;
    }

    /// <summary>Drops what the KV cache holds beyond <see cref="KvSequence.Tokens"/> (after a failed decode).</summary>
    public void Resync(KvSequence sequence) => context.MemorySequenceRemove(sequence.Id, sequence.Tokens.Count, -1);

    /// <summary>
    /// Frees the KV of the idle sequence used longest ago that holds any (but <paramref name="keep"/> and
    /// <paramref name="alsoKeep"/>), saving it to host memory first; false when no such sequence is left.
    /// </summary>
    public bool EvictIdle(KvSequence? keep = null, KvSequence? alsoKeep = null)
    {
        var victim = _sequences.Where(s => s.Owner is null && s.Tokens.Count > 0 && s != keep && s != alsoKeep).MinBy(s => s.LastUsed);
        if (victim is null)
        {
            return false;
        }
        Evict(victim);
        return true;
    }

    /// <summary>
    /// Moves every idle conversation out of the live cache into host memory, but the prefix whose cells another
    /// sequence holds too (a shared system prompt or tool list: held anyway, so it costs nothing): called while
    /// requests run, since llama.cpp attends over every cell up to the highest one in use in the unified cache,
    /// whoever holds it, and each idle conversation left there widens every step of the running ones. A conversation
    /// whose state does not fit the host budget stays live; with the host tier off (budget 0) all of them do.
    /// </summary>
    /// <returns>The conversations moved.</returns>
    public int ParkIdle()
    {
        if (Host.BudgetBytes <= 0)
        {
            return 0;
        }
        var parked = 0;
        foreach (var sequence in _sequences)
        {
            if (sequence.Owner is not null)
            {
                continue;
            }
            var shared = SharedPrefix(sequence);
            if (shared == sequence.Tokens.Count || Save(sequence) is not { } state)
            {
                continue;
            }
            Host.Add([.. sequence.TokenList], Math.Min(sequence.LastPromptLength, sequence.Tokens.Count), state);
            Truncate(sequence, shared);
            Interlocked.Increment(ref _evictions);
            parked++;
        }
        return parked;
    }

    // The leading tokens whose cells another sequence holds as well.
    private int SharedPrefix(KvSequence sequence)
    {
        var length = 0;
        while (length < sequence.Cells.Count && _cellHolders[sequence.Cells[length]] > 1)
        {
            length++;
        }
        return length;
    }

    // The conversation leaves the live cache (but its first `keep` tokens); host memory keeps all of it when its budget allows.
    private void Evict(KvSequence sequence, int keep = 0)
    {
        // A state already saved for all of these tokens (a shared prefix the sequence kept when its conversation was
        // moved out) serves every prompt this one would.
        if (Host.BudgetBytes > 0 && Host.LongestPrefix(CollectionsMarshal.AsSpan(sequence.TokenList)).Length < sequence.Tokens.Count && Save(sequence) is { } state)
        {
            Host.Add([.. sequence.TokenList], Math.Min(sequence.LastPromptLength, sequence.Tokens.Count), state);
        }
        Truncate(sequence, keep);
        Interlocked.Increment(ref _evictions);
    }

    private unsafe byte[]? Save(KvSequence sequence)
    {
        var size = context.GetStateSize(sequence.Id);
        if (size == 0 || size > (nuint)Host.BudgetBytes)
        {
            return null;
        }
        var state = GC.AllocateUninitializedArray<byte>(checked((int)size));
        nuint written;
        fixed (byte* destination = state)
        {
            written = context.GetState(destination, size, sequence.Id);
        }
        return written == size ? state : null;
    }

    // The saved KV goes back into the (empty) sequence at positions 0..n-1, in cells of its own.
    private unsafe bool Restore(KvSequence sequence, HostKvCache.Entry entry)
    {
        nuint read;
        fixed (byte* source = entry.State)
        {
            read = context.SetState(source, (nuint)entry.State.Length, sequence.Id);
        }
        if (read == 0)
        {
            logger?.LogDebug("A conversation of {Tokens} tokens saved in host memory could not be restored (too few free KV cells); its prompt is computed", entry.Tokens.Length);
            context.MemorySequenceRemove(sequence.Id, 0, -1);
            return false;
        }
        Append(sequence, entry.Tokens);
        return true;
    }

    private void Hold(KvSequence sequence, LLamaToken token, long cell)
    {
        sequence.TokenList.Add(token);
        sequence.Cells.Add(cell);
        _cellHolders[cell] = _cellHolders.GetValueOrDefault(cell) + 1;
    }

    private void Truncate(KvSequence sequence, int length)
    {
        if (length >= sequence.Tokens.Count)
        {
            return;
        }
        context.MemorySequenceRemove(sequence.Id, length, -1);
        for (var i = length; i < sequence.Cells.Count; i++)
        {
            var cell = sequence.Cells[i];
            if (_cellHolders[cell] == 1)
            {
                _cellHolders.Remove(cell);
            }
            else
            {
                _cellHolders[cell]--;
            }
        }
        sequence.Cells.RemoveRange(length, sequence.Cells.Count - length);
        sequence.TokenList.RemoveRange(length, sequence.TokenList.Count - length);
    }
}
