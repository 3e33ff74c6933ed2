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

/// <summary>
/// The sequences of the scheduler's context (one per slot) and their cached KV, so that many conversations keep
/// theirs. A finished request's sequence keeps its KV; a new request continues an idle sequence only when the prompt
/// shares a prefix worth it - at least <see cref="ReuseSimilarity"/> of what that sequence holds (the next turn of
/// its conversation, a retry) - and otherwise takes an empty sequence, or else the idle one used longest ago (LRU),
/// so one conversation never overwrites another for the sake of the chat template's opening tokens. Whatever
/// sequence it takes, the longest prefix of its prompt held anywhere - busy or idle, e.g. a long system prompt or
/// tool list - is copied into it (<c>llama_memory_seq_cp</c>), not recomputed.
/// </summary>
/// <remarks>
/// The context's KV cache is unified: a copied prefix shares its cells with the sequence it came from, and a cell is
/// free only when no sequence holds it. The cells are counted that way here (<see cref="UsedCells"/>), so admission
/// sees the room the cache really has.
/// </remarks>
internal sealed class KvSequences(SafeLLamaContextHandle context, int count, double reuseSimilarity)
{
    private readonly KvSequence[] _sequences = [.. Enumerable.Range(0, count).Select(i => new KvSequence((LLamaSeqId)i))];
    private readonly Dictionary<long, int> _cellHolders = [];
    private long _clock;
    private long _nextCell;

    /// <summary>The share of an idle sequence's tokens a prompt must start with for the sequence to be continued.</summary>
    public double ReuseSimilarity { get; } = reuseSimilarity;

    public int Free => _sequences.Count(s => s.Owner is null);

    /// <summary>KV cells in use: a prefix shared by copy is counted once, as llama.cpp's unified cache stores it.</summary>
    public int UsedCells => _cellHolders.Count;

    public IReadOnlyList<KvSequence> All => _sequences;

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
    public KvSequence? TargetFor(ReadOnlySpan<LLamaToken> prompt)
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
        return continued ?? empty ?? oldest;
    }

    /// <summary>Gives <paramref name="generation"/> the sequence <see cref="TargetFor"/> picks, with as much of its prompt as the cache holds; false when none is idle.</summary>
    public bool TryAssign(Generation generation)
    {
        var prompt = generation.Request.Prompt;
        if (TargetFor(prompt) is not { } target)
        {
            return false;
        }
        var (source, sourcePrefix) = LongestPrefix(prompt);

        // The last prompt token is always decoded again: its logits give the first new token.
        var limit = prompt.Length - 1;
        var keep = Math.Min(target.CommonPrefix(prompt), limit);
        var shared = Math.Min(sourcePrefix, limit);
        if (source is not null && source != target && shared > keep)
        {
            Truncate(target, 0);
            context.MemorySequenceCopy(source.Id, target.Id, 0, shared);
            for (var i = 0; i < shared; i++)
            {
                Hold(target, source.TokenList[i], source.Cells[i]);
            }
            keep = shared;
        }
        else
        {
            Truncate(target, keep);
        }

        target.Owner = generation;
        target.LastUsed = ++_clock;
        generation.Sequence = target;
        generation.PromptDone = keep;
        generation.CachedPromptTokens = keep;
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
    /// Frees the KV of the idle sequence used longest ago that holds any (but <paramref name="keep"/>); false when
    /// no such sequence is left.
    /// </summary>
    public bool EvictIdle(KvSequence? keep = null)
    {
        var victim = _sequences.Where(s => s.Owner is null && s.Tokens.Count > 0 && s != keep).MinBy(s => s.LastUsed);
        if (victim is null)
        {
            return false;
        }
        Truncate(victim, 0);
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
