using System.Text.RegularExpressions;

namespace LlmStack.Gguf;

/// <summary>
/// A tiny model whose weights make real llama.cpp inference produce a chosen reply, whatever the prompt and
/// the sampling settings. The reply is split into <see cref="Pieces"/>, each a token of the model's own
/// vocabulary; token <c>i</c>'s embedding is one-hot in dimension <c>i</c>, every other token shares a "bias"
/// dimension, and the output matrix maps dimension <c>i</c> to piece <c>i + 1</c> (the bias dimension to
/// the first piece, the last piece's dimension to end-of-turn). Attention and feed-forward weights are
/// small random values, so every kernel runs without moving the argmax.
/// </summary>
/// <example><code>ScriptedModel.Write(path, new ScriptedModelSpec("Hello there!") { Loop = true });</code></example>
public static partial class ScriptedModel
{
    // Logit of the scripted next token: the one-hot dimension reaches ~sqrt(n_embd) after the final RMS norm,
    // so this gives a margin of hundreds of logits over any other token, far beyond any temperature.
    private const float Strength = 40f;
    private const float NoiseAmplitude = 0.02f;

    /// <summary>Writes the model to <paramref name="path"/>.</summary>
    public static void Write(string path, ScriptedModelSpec spec)
    {
        var pieces = spec.Tokens ?? Pieces(spec.Reply).Select(ByteLevelBpeVocabulary.Encode).ToList();
        if (spec.Tokens is not null)
        {
            var spelled = spec.Tokens.SelectMany(ByteLevelBpeVocabulary.Decode).ToArray();
            if (!spelled.AsSpan().SequenceEqual(System.Text.Encoding.UTF8.GetBytes(spec.Reply)))
            {
                throw new ArgumentException("The tokens do not spell the reply.", nameof(spec));
            }
            if (pieces.Distinct(StringComparer.Ordinal).Count() != pieces.Count || pieces.Contains(ByteLevelBpeVocabulary.Encode("\n")))
            {
                throw new ArgumentException("The tokens must be distinct and none a lone newline.", nameof(spec));
            }
        }
        var vocabulary = ByteLevelBpeVocabulary.Create(pieces, llama3: ByteLevelBpeVocabulary.UsesLlama3Markers(spec.ChatTemplate));
        var pieceIds = pieces.Select(vocabulary.IdOf).ToArray();
        var biasDimension = pieces.Count;
        // One dimension per piece plus the bias dimension, rounded up so heads stay even.
        var shape = ModelShape.Tiny(Math.Max(64, (biasDimension + 1 + 31) / 32 * 32), spec.Architecture);

        var dimensionOf = new Dictionary<long, int>();
        for (var i = 0; i < pieceIds.Length; i++)
        {
            dimensionOf[pieceIds[i]] = i;
        }
        // Which dimensions each token's output row reads.
        var readsOf = new Dictionary<long, List<int>>();
        void Reads(int token, int dimension) => (readsOf.TryGetValue(token, out var list) ? list : readsOf[token] = []).Add(dimension);
        Reads(pieceIds[0], biasDimension);
        for (var i = 1; i < pieceIds.Length; i++)
        {
            Reads(pieceIds[i], i - 1);
        }
        Reads(spec.Loop ? pieceIds[0] : vocabulary.EndOfTurnId, pieceIds.Length - 1);

        new GgufModelBuilder(shape, vocabulary) { MatrixType = spec.MatrixType, Name = spec.Name, ChatTemplate = spec.ChatTemplate }.Write(path, slot =>
            GgufModelBuilder.Neutral(slot) ?? slot.Role switch
            {
                TensorRole.TokenEmbedding => (first, values) =>
                {
                    values.Clear();
                    for (var i = 0; i < values.Length; i++)
                    {
                        var (token, column) = Math.DivRem(first + i, slot.RowLength);
                        if (column == (dimensionOf.TryGetValue(token, out var dimension) ? dimension : biasDimension))
                        {
                            values[i] = 1f;
                        }
                    }
                },
                TensorRole.Output => (first, values) =>
                {
                    values.Clear();
                    for (var i = 0; i < values.Length; i++)
                    {
                        var (token, column) = Math.DivRem(first + i, slot.RowLength);
                        if (readsOf.TryGetValue(token, out var dimensions) && dimensions.Contains((int)column))
                        {
                            values[i] = Strength;
                        }
                    }
                },
                _ => GgufModelBuilder.Noise(slot.Name, spec.Seed, NoiseAmplitude),
            });
    }

    /// <summary>
    /// Splits a reply into the distinct pieces a scripted model emits, one token each: words with their
    /// leading whitespace, joined with the next word where a piece would repeat (the next token depends only
    /// on the current one, so a repeated piece would loop).
    /// </summary>
    public static IReadOnlyList<string> Pieces(string reply)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(reply);
        var matches = Word().Matches(reply);
        var words = matches.Select(m => m.Value).ToList();
        // Trailing whitespace belongs to the last word.
        words[^1] += reply[(matches[^1].Index + matches[^1].Length)..];

        var pieces = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var pending = "";
        foreach (var word in words)
        {
            pending += word;
            if (seen.Add(pending))
            {
                pieces.Add(pending);
                pending = "";
            }
        }
        if (pending.Length > 0)
        {
            var last = pieces[^1] + pending;
            if (!seen.Add(last))
            {
                throw new ArgumentException("The reply cannot be split into distinct pieces.", nameof(reply));
            }
            seen.Remove(pieces[^1]);
            pieces[^1] = last;
        }
        // The prompt's generation marker ends with a newline token, which must keep meaning "start the reply".
        if (pieces.Contains("\n"))
        {
            throw new ArgumentException("A reply piece cannot be a lone newline.", nameof(reply));
        }
        return pieces;
    }

    [GeneratedRegex(@"\s*\S+")]
    private static partial Regex Word();
}
