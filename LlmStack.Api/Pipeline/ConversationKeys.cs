using System.IO.Hashing;
using System.Runtime.InteropServices;
using Microsoft.Extensions.AI;

namespace LlmStack.Api.Pipeline;

/// <summary>
/// A request's conversation as affinity keys: the hash of its whole message list (what a later turn finds), and the hash
/// of every shorter run of leading messages that holds more than the system prompt (what this turn looks up: the
/// messages an earlier request sent, before its reply and the new question were added). An explicit conversation - the
/// Responses API's <c>previous_response_id</c> - is a key of its own. Hashes are 64-bit XXH3; a collision costs only a
/// cache miss on the wrong replica.
/// </summary>
internal readonly struct ConversationKeys
{
    private readonly ulong[] _prefixes;
    private readonly int _firstLookup;

    private ConversationKeys(ulong[] prefixes, int firstLookup, ulong? continues, ulong? id)
    {
        _prefixes = prefixes;
        _firstLookup = firstLookup;
        Continues = continues;
        Id = id;
    }

    /// <summary>The key of the explicit conversation this request continues (<c>previous_response_id</c>).</summary>
    public ulong? Continues { get; }

    /// <summary>The key a later request continuing this one explicitly will look up (this response's id).</summary>
    public ulong? Id { get; }

    /// <summary>The hash of the whole message list; 0 for a request with nothing but system messages.</summary>
    public ulong Whole => _prefixes is not null && _prefixes.Length > _firstLookup ? _prefixes[^1] : 0;

    /// <summary>
    /// Hashes of the leading messages that may be an earlier request's, shortest first (look them up from the end: the
    /// longest match wins). A span, not an iterator: the lookup runs on every routed request.
    /// </summary>
    public ReadOnlySpan<ulong> Lookups => _prefixes is null || _prefixes.Length - 1 <= _firstLookup
        ? default
        : _prefixes.AsSpan(_firstLookup, _prefixes.Length - 1 - _firstLookup);

    public static ConversationKeys Of(IEnumerable<ChatMessage> messages, ConversationTurn? turn)
    {
        var list = messages as IList<ChatMessage> ?? [.. messages];
        var prefixes = new ulong[list.Count];
        var firstLookup = list.Count;
        // One hasher per thread, reset per request (its state is a few hundred bytes); nothing here awaits.
        var hash = t_hash ??= new XxHash3();
        hash.Reset();
        for (var i = 0; i < list.Count; i++)
        {
            Append(hash, list[i]);
            prefixes[i] = hash.GetCurrentHashAsUInt64();
            if (firstLookup == list.Count && list[i].Role != ChatRole.System)
            {
                firstLookup = i;
            }
        }
        return new ConversationKeys(prefixes, firstLookup, KeyOf(turn?.Continues), KeyOf(turn?.Id));
    }

    [ThreadStatic]
    private static XxHash3? t_hash;

    private static ulong? KeyOf(string? id) => id is null ? null : XxHash3.HashToUInt64(MemoryMarshal.AsBytes(("id:" + id).AsSpan()));

    private static void Append(XxHash3 hash, ChatMessage message)
    {
        Append(hash, message.Role.Value);
        foreach (var content in message.Contents)
        {
            switch (content)
            {
                case TextContent text:
                    Append(hash, "t");
                    Append(hash, text.Text);
                    break;
                case FunctionCallContent call:
                    Append(hash, "f");
                    Append(hash, call.CallId);
                    Append(hash, call.Name);
                    break;
                case FunctionResultContent result:
                    Append(hash, "r");
                    Append(hash, result.CallId);
                    Append(hash, result.Result?.ToString());
                    break;
                case DataContent data:
                    Append(hash, "d");
                    Append(hash, data.MediaType);
                    hash.Append(data.Data.Span);
                    break;
                case UriContent uri:
                    Append(hash, "u");
                    Append(hash, uri.Uri.OriginalString);
                    break;
                // Reasoning is left out: clients seldom send it back.
            }
        }
        Append(hash, "\u0000");
    }

    // Length-prefixed, so that ("ab", "c") and ("a", "bc") differ.
    private static void Append(XxHash3 hash, string? text)
    {
        var value = text ?? "";
        Span<byte> length = stackalloc byte[sizeof(int)];
        BitConverter.TryWriteBytes(length, value.Length);
        hash.Append(length);
        hash.Append(MemoryMarshal.AsBytes(value.AsSpan()));
    }
}

/// <summary>
/// An explicit conversation turn, handed to the router by the endpoint (the Responses API): the response it continues and
/// its own id, for the next turn.
/// </summary>
internal sealed record ConversationTurn(string? Continues, string? Id)
{
    /// <summary>The key of <see cref="ChatOptions.AdditionalProperties"/> that carries it; the router takes it out before any backend sees the options.</summary>
    public const string OptionsKey = "llmstack.conversation_turn";

    /// <summary>Takes the turn out of <paramref name="options"/>: the options without it (a copy when it was there) and the turn.</summary>
    public static (ChatOptions? Options, ConversationTurn? Turn) Take(ChatOptions? options)
    {
        if (options?.AdditionalProperties?.TryGetValue(OptionsKey, out var value) != true)
        {
            return (options, null);
        }
        var copy = options.Clone();
        copy.AdditionalProperties!.Remove(OptionsKey);
        return (copy, value as ConversationTurn);
    }
}
