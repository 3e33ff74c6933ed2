using LLama.Native;

namespace LlmStack.Api.Backends.Embedded.Batching;

/// <summary>One llama.cpp sequence of the scheduler's context, and the tokens whose KV it holds.</summary>
internal sealed class KvSequence(LLamaSeqId id)
{
    public LLamaSeqId Id { get; } = id;

    /// <summary>Tokens in the KV cache at positions 0..Count-1; a finished request's stay for the next turn.</summary>
    public List<LLamaToken> Tokens { get; } = [];

    /// <summary>The generation using it now; null when idle.</summary>
    public Generation? Owner { get; set; }

    /// <summary>When it was last released (a logical clock): the idle sequence used longest ago is reused first.</summary>
    public long LastUsed { get; set; }

    public int CommonPrefix(ReadOnlySpan<LLamaToken> prompt)
    {
        var length = Math.Min(Tokens.Count, prompt.Length);
        var i = 0;
        while (i < length && Tokens[i] == prompt[i])
        {
            i++;
        }
        return i;
    }
}

/// <summary>
/// The sequences of the scheduler's context (one per slot) and their cached KV. A finished request's sequence keeps
/// its KV, so the next turn of the same conversation only processes its new tokens; a new request takes the idle
/// sequence sharing the longest prefix with its prompt, else the one used longest ago (LRU). A prefix that another
/// sequence holds - busy or idle, e.g. a long system prompt - is copied (<c>llama_memory_seq_cp</c>), not recomputed.
/// </summary>
internal sealed class KvSequences(SafeLLamaContextHandle context, int count)
{
    private readonly KvSequence[] _sequences = [.. Enumerable.Range(0, count).Select(i => new KvSequence((LLamaSeqId)i))];
    private long _clock;

    public int Free => _sequences.Count(s => s.Owner is null);

    /// <summary>
    /// KV cells in use, counted per sequence: a prefix shared by copy is counted once per sequence, so this errs on
    /// the side of a fuller cache.
    /// </summary>
    public int UsedCells => _sequences.Sum(s => s.Tokens.Count);

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

    /// <summary>Gives <paramref name="generation"/> an idle sequence holding as much of its prompt as the cache has; false when none is idle.</summary>
    public bool TryAssign(Generation generation)
    {
        var prompt = generation.Request.Prompt;
        KvSequence? target = null;
        var targetPrefix = -1;
        KvSequence? source = null;
        var sourcePrefix = 0;
        foreach (var sequence in _sequences)
        {
            var prefix = sequence.CommonPrefix(prompt);
            if (prefix > sourcePrefix)
            {
                (source, sourcePrefix) = (sequence, prefix);
            }
            if (sequence.Owner is null && (prefix > targetPrefix || (prefix == targetPrefix && sequence.LastUsed < target!.LastUsed)))
            {
                (target, targetPrefix) = (sequence, prefix);
            }
        }
        if (target is null)
        {
            return false;
        }

        // The last prompt token is always decoded again: its logits give the first new token.
        var limit = prompt.Length - 1;
        var keep = Math.Min(targetPrefix, limit);
        var shared = Math.Min(sourcePrefix, limit);
        if (source is not null && source != target && shared > keep)
        {
            context.MemorySequenceRemove(target.Id, -1, -1);
            context.MemorySequenceCopy(source.Id, target.Id, 0, shared);
            target.Tokens.Clear();
            target.Tokens.AddRange(source.Tokens.Take(shared));
            keep = shared;
        }
        else
        {
            Truncate(target, keep);
        }

        target.Owner = generation;
        generation.Sequence = target;
        generation.PromptDone = keep;
        generation.CachedPromptTokens = keep;
        return true;
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

    private void Truncate(KvSequence sequence, int length)
    {
        context.MemorySequenceRemove(sequence.Id, length, -1);
        sequence.Tokens.RemoveRange(length, sequence.Tokens.Count - length);
    }
}
