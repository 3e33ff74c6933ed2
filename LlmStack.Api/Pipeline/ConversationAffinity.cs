namespace LlmStack.Api.Pipeline;

/// <summary>
/// Which replica served which recent conversation: the most recent <see cref="Capacity"/> keys of one model, the least
/// recently used dropped first (a bounded table: a conversation not seen for a while has lost its prefix cache anyway).
/// </summary>
internal sealed class ConversationAffinity(int capacity = ConversationAffinity.DefaultCapacity)
{
    /// <summary>Conversations remembered per model: about 100 bytes each.</summary>
    public const int DefaultCapacity = 50_000;

    private readonly Lock _lock = new();
    private readonly Dictionary<ulong, LinkedListNode<(ulong Key, int Replica)>> _entries = [];
    private readonly LinkedList<(ulong Key, int Replica)> _recency = new();

    public int Capacity => capacity;

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _entries.Count;
            }
        }
    }

    /// <summary>The replica that served the conversation <paramref name="keys"/> continues, if it is remembered.</summary>
    public int? Find(in ConversationKeys keys)
    {
        lock (_lock)
        {
            if (keys.Continues is { } continues && Touch(continues) is { } explicitReplica)
            {
                return explicitReplica;
            }
            var lookups = keys.Lookups;
            for (var i = lookups.Length - 1; i >= 0; i--)
            {
                if (Touch(lookups[i]) is { } replica)
                {
                    return replica;
                }
            }
        }
        return null;
    }

    /// <summary>Remembers that <paramref name="replica"/> served the request of <paramref name="keys"/>.</summary>
    public void Record(in ConversationKeys keys, int replica)
    {
        lock (_lock)
        {
            if (keys.Whole != 0)
            {
                Set(keys.Whole, replica);
            }
            if (keys.Id is { } id)
            {
                Set(id, replica);
            }
        }
    }

    private int? Touch(ulong key)
    {
        if (!_entries.TryGetValue(key, out var node))
        {
            return null;
        }
        MakeMostRecent(node);
        return node.Value.Replica;
    }

    private void Set(ulong key, int replica)
    {
        if (_entries.TryGetValue(key, out var node))
        {
            node.Value = (key, replica);
            MakeMostRecent(node);
            return;
        }
        if (_entries.Count >= capacity && _recency.Last is { } oldest)
        {
            _recency.RemoveLast();
            _entries.Remove(oldest.Value.Key);
        }
        _entries[key] = _recency.AddFirst((key, replica));
    }

    private void MakeMostRecent(LinkedListNode<(ulong Key, int Replica)> node)
    {
        // A conversation turn touches its keys twice (lookup, then record): the second time it is already first.
        if (_recency.First != node)
        {
            _recency.Remove(node);
            _recency.AddFirst(node);
        }
    }
}
