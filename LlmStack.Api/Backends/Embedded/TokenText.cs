using LLama;
using LLama.Native;

namespace LlmStack.Api.Backends.Embedded;

/// <summary>
/// What each token of a model writes, as bytes, and whether it keeps the output well-formed UTF-8. llama.cpp's
/// grammar decodes a token's bytes leniently (continuation bytes are masked, not checked; overlong forms and
/// code points past U+10FFFF pass), so a model that samples byte tokens can satisfy <c>char{0,8}</c> with bytes that
/// every client decodes into U+FFFD. A grammar-bound reply therefore only takes tokens this table allows: their
/// bytes continue the output as well-formed UTF-8 (Unicode's table 3-7), and they write text at all (control
/// tokens write nothing a client sees, while the grammar would read their names as text).
/// </summary>
/// <remarks>Built once per model, on first use (one call into llama.cpp per token: ~150k for Qwen2.5's vocabulary).</remarks>
internal sealed class TokenText
{
    private readonly byte[] _bytes;
    private readonly int[] _start;
    private readonly int[] _fromClean;
    private readonly bool[] _endsGeneration;
    private readonly int[] _continuing;

    private TokenText(byte[] bytes, int[] start, bool[] endsGeneration)
    {
        _bytes = bytes;
        _start = start;
        _endsGeneration = endsGeneration;
        var count = endsGeneration.Length;
        _fromClean = new int[count];
        var continuing = new List<int>();
        for (var token = 0; token < count; token++)
        {
            var piece = Piece(token);
            _fromClean[token] = piece.IsEmpty ? Utf8State.Invalid : Utf8State.Advance(Utf8State.Clean, piece);
            if (!piece.IsEmpty && piece[0] is >= 0x80 and <= 0xBF)
            {
                continuing.Add(token);
            }
        }
        _continuing = [.. continuing];
    }

    public int Count => _endsGeneration.Length;

    public static TokenText Of(LLamaWeights weights)
    {
        var vocabulary = weights.Vocab;
        var count = vocabulary.Count;
        var start = new int[count + 1];
        var bytes = new List<byte>(count * 8);
        var endsGeneration = new bool[count];
        Span<byte> piece = stackalloc byte[256];
        for (var token = 0; token < count; token++)
        {
            start[token] = bytes.Count;
            endsGeneration[token] = ((LLamaToken)token).IsEndOfGeneration(vocabulary);
            var length = (int)NativeApi.llama_token_to_piece(vocabulary, (LLamaToken)token, piece, 0, false);
            if (length < 0)
            {
                var large = new byte[-length];
                length = (int)NativeApi.llama_token_to_piece(vocabulary, (LLamaToken)token, large, 0, false);
                bytes.AddRange(large.AsSpan(0, Math.Max(0, length)));
            }
            else
            {
                bytes.AddRange(piece[..length]);
            }
        }
        start[count] = bytes.Count;
        return new TokenText([.. bytes], start, endsGeneration);
    }

    /// <summary>The bytes <paramref name="token"/> writes (empty for control tokens).</summary>
    public ReadOnlySpan<byte> Piece(int token) => _bytes.AsSpan(_start[token], _start[token + 1] - _start[token]);

    /// <summary>True when <paramref name="token"/> may follow output whose UTF-8 decoder is in <paramref name="state"/>.</summary>
    public bool Allows(int state, int token) =>
        (uint)token < (uint)Count && (_endsGeneration[token]
            ? state == Utf8State.Clean
            : state == Utf8State.Clean ? _fromClean[token] != Utf8State.Invalid : Utf8State.Advance(state, Piece(token)) != Utf8State.Invalid);

    /// <summary>The decoder's state once <paramref name="token"/> follows <paramref name="state"/>.</summary>
    public int Advance(int state, int token) =>
        _endsGeneration[token] ? state : state == Utf8State.Clean ? _fromClean[token] : Utf8State.Advance(state, Piece(token));

    /// <summary>Sets the logit of every token <see cref="Allows"/> refuses after <paramref name="state"/> to minus infinity.</summary>
    public void Mask(int state, Span<LLamaTokenData> candidates)
    {
        if (state == Utf8State.Clean)
        {
            foreach (ref var candidate in candidates)
            {
                var token = (int)candidate.ID;
                if (!_endsGeneration[token] && _fromClean[token] == Utf8State.Invalid)
                {
                    candidate.Logit = float.NegativeInfinity;
                }
            }
            return;
        }
        // Mid-character only tokens that start with a continuation byte can fit; the table lists them.
        var fits = new HashSet<int>();
        foreach (var token in _continuing)
        {
            if (Utf8State.Advance(state, Piece(token)) != Utf8State.Invalid)
            {
                fits.Add(token);
            }
        }
        foreach (ref var candidate in candidates)
        {
            if (!fits.Contains((int)candidate.ID))
            {
                candidate.Logit = float.NegativeInfinity;
            }
        }
    }
}

/// <summary>
/// A strict UTF-8 decoder's state between tokens, packed into an int: <see cref="Clean"/> between characters,
/// otherwise the continuation bytes still due and the range the next one must fall in (E0 needs A0-BF, ED 80-9F,
/// F0 90-BF, F4 80-8F, the rest 80-BF), or <see cref="Invalid"/>.
/// </summary>
internal static class Utf8State
{
    public const int Clean = 0;
    public const int Invalid = -1;

    private static int Pending(int remaining, int low, int high) => remaining | low << 8 | high << 16;

    public static int Advance(int state, ReadOnlySpan<byte> bytes)
    {
        if (state == Invalid)
        {
            return Invalid;
        }
        var remaining = state & 0xFF;
        var low = (state >> 8) & 0xFF;
        var high = (state >> 16) & 0xFF;
        foreach (var b in bytes)
        {
            if (remaining > 0)
            {
                if (b < low || b > high)
                {
                    return Invalid;
                }
                remaining--;
                (low, high) = (0x80, 0xBF);
                continue;
            }
            (remaining, low, high) = b switch
            {
                < 0x80 => (0, 0, 0),
                >= 0xC2 and <= 0xDF => (1, 0x80, 0xBF),
                0xE0 => (2, 0xA0, 0xBF),
                0xED => (2, 0x80, 0x9F),
                >= 0xE1 and <= 0xEF => (2, 0x80, 0xBF),
                0xF0 => (3, 0x90, 0xBF),
                >= 0xF1 and <= 0xF3 => (3, 0x80, 0xBF),
                0xF4 => (3, 0x80, 0x8F),
                _ => (-1, 0, 0),
            };
            if (remaining < 0)
            {
                return Invalid;
            }
        }
        return remaining == 0 ? Clean : Pending(remaining, low, high);
    }
}
