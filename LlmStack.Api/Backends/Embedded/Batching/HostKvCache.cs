using LLama.Native;

namespace LlmStack.Api.Backends.Embedded.Batching;

/// <summary>
/// The host-memory tier of the prompt cache: the KV state of conversations evicted from the llama.cpp context
/// (<c>llama_state_seq_get_data</c>), kept in process memory under a byte budget, so that a conversation whose
/// sequence was taken by another one is restored (<c>llama_state_seq_set_data</c>) instead of recomputed when it
/// comes back. Saved states are dropped least recently used first once the budget is full. Owned by the scheduler's
/// loop thread; the counters are read by the metrics from any thread.
/// </summary>
internal sealed class HostKvCache(long budgetBytes)
{
    /// <summary>
    /// One saved sequence: the tokens whose KV it holds (positions 0..n-1) - the first <see cref="PromptLength"/> of them
    /// its last request's prompt, the rest that request's reply - and llama.cpp's bytes of it.
    /// </summary>
    internal sealed class Entry(LLamaToken[] tokens, int promptLength, byte[] state)
    {
        public LLamaToken[] Tokens { get; } = tokens;

        public int PromptLength { get; } = promptLength;

        public byte[] State { get; } = state;

        public int CommonPrefix(ReadOnlySpan<LLamaToken> prompt) => Tokens.AsSpan().CommonPrefixLength(prompt);
    }

    // Least recently used first.
    private readonly LinkedList<Entry> _entries = new();
    private long _bytes;
    private int _count;
    private long _evictions;

    /// <summary>Bytes of saved state the tier may hold; 0 turns it off.</summary>
    public long BudgetBytes { get; } = budgetBytes;

    /// <summary>Bytes of saved state held now.</summary>
    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>Saved conversations held now.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Saved states dropped so far to keep within the budget.</summary>
    public long Evictions => Interlocked.Read(ref _evictions);

    /// <summary>
    /// Keeps <paramref name="state"/>, the KV of <paramref name="tokens"/>, dropping the states used longest ago until it
    /// fits. A state already saved for a prefix of these tokens is replaced (this one serves every prompt it would); a
    /// state larger than the whole budget is not kept.
    /// </summary>
    public void Add(LLamaToken[] tokens, int promptLength, byte[] state)
    {
        if (state.Length > BudgetBytes)
        {
            return;
        }
        for (var node = _entries.First; node is not null;)
        {
            var next = node.Next;
            if (node.Value.Tokens.Length <= tokens.Length && node.Value.CommonPrefix(tokens) == node.Value.Tokens.Length)
            {
                Drop(node);
            }
            node = next;
        }
        while (_bytes + state.Length > BudgetBytes && _entries.First is { } oldest)
        {
            Drop(oldest);
            Interlocked.Increment(ref _evictions);
        }
        _entries.AddLast(new Entry(tokens, promptLength, state));
        Interlocked.Add(ref _bytes, state.Length);
        Interlocked.Increment(ref _count);
    }

    /// <summary>The saved state sharing the longest prefix with <paramref name="prompt"/>, and that prefix's length.</summary>
    public (Entry? Entry, int Length) LongestPrefix(ReadOnlySpan<LLamaToken> prompt)
    {
        Entry? best = null;
        var length = 0;
        foreach (var entry in _entries)
        {
            var prefix = entry.CommonPrefix(prompt);
            if (prefix > length)
            {
                (best, length) = (entry, prefix);
            }
        }
        return (best, length);
    }

    /// <summary>
    /// <paramref name="entry"/> was restored into a sequence: taken out when the sequence continues its conversation
    /// from now on (<paramref name="whole"/>), else made the most recently used.
    /// </summary>
    public void Used(Entry entry, bool whole)
    {
        if (_entries.Find(entry) is not { } node)
        {
            return;
        }
        if (whole)
        {
            Drop(node);
            return;
        }
        _entries.Remove(node);
        _entries.AddLast(node);
    }

    private void Drop(LinkedListNode<Entry> node)
    {
        _entries.Remove(node);
        Interlocked.Add(ref _bytes, -node.Value.State.Length);
        Interlocked.Decrement(ref _count);
    }
}
