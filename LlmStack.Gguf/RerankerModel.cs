namespace LlmStack.Gguf;

/// <summary>
/// A tiny reranker in the shape llama.cpp runs with rank pooling, as it runs Qwen3-Reranker: the qwen3 architecture, a
/// rerank head (<c>cls.output.weight</c>, two outputs, <c>yes</c> and <c>no</c>) and <c>qwen3.pooling_type</c> rank, so
/// llama.cpp scores a sequence by passing its last token's final hidden state through the head and a softmax: the score
/// is the share of <c>yes</c>. Its weights make the score known in advance:
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>a word of relevance <c>w</c> embeds as <c>(w, 1 - w)</c> in the first two dimensions, every other token as
/// <c>(0, 1)</c>;</item>
/// <item>queries and keys are zero, so attention is uniform: the last token receives the mean of every token's
/// (normalised) embedding, through identity value and output projections; the feed-forward layer adds nothing;</item>
/// <item>the head's <c>yes</c> reads the first dimension of the final normalised state, its <c>no</c> is zero: the score
/// is the sigmoid of that dimension.</item>
/// </list>
/// So a sequence's score is <see cref="Score"/> of its tokens' relevances: it rises with each relevant token and with
/// its relevance, and a document's rank among others of the same length follows the relevance of its words.
/// </remarks>
public static class RerankerModel
{
    private const int RelevanceDimension = 0;
    private const int RestDimension = 1;

    public static void Write(string path, RerankerModelSpec spec)
    {
        var relevance = spec.Relevance.ToDictionary(p => p.Key, p => p.Value);
        if (relevance.Values.Any(w => w is < 0 or > 1 || float.IsNaN(w)))
        {
            throw new ArgumentException("Relevances are between 0 and 1.", nameof(spec));
        }
        var vocabulary = ByteLevelBpeVocabulary.Create(words: relevance.Keys);
        var relevanceOf = new Dictionary<long, float>();
        foreach (var (word, weight) in relevance)
        {
            relevanceOf[vocabulary.IdOf(ByteLevelBpeVocabulary.WordToken(word, spaced: false))] = weight;
            relevanceOf[vocabulary.IdOf(ByteLevelBpeVocabulary.WordToken(word, spaced: true))] = weight;
        }
        var shape = ModelShape.Tiny(architecture: ModelShape.Qwen3) with { BlockCount = 1 };

        new GgufModelBuilder(shape, vocabulary) { MatrixType = spec.MatrixType, Name = spec.Name, ClassifierLabels = ["yes", "no"] }.Write(path, slot =>
            GgufModelBuilder.Neutral(slot) ?? slot.Role switch
            {
                TensorRole.TokenEmbedding => (first, values) =>
                {
                    values.Clear();
                    for (var i = 0; i < values.Length; i++)
                    {
                        var (token, column) = Math.DivRem(first + i, slot.RowLength);
                        var weight = relevanceOf.GetValueOrDefault(token);
                        values[i] = column switch
                        {
                            RelevanceDimension => weight,
                            RestDimension => 1 - weight,
                            _ => 0,
                        };
                    }
                },
                TensorRole.Classifier => (first, values) =>
                {
                    values.Clear();
                    for (var i = 0; i < values.Length; i++)
                    {
                        // Row 0 (yes) reads the relevance; row 1 (no) stays zero.
                        if (first + i == RelevanceDimension)
                        {
                            values[i] = 1;
                        }
                    }
                },
                // Value and output projections carry the two dimensions through; queries, keys, the feed-forward
                // layer and the language-model head are zero.
                TensorRole.Projection when slot.Name.EndsWith("attn_v.weight", StringComparison.Ordinal)
                    || slot.Name.EndsWith("attn_output.weight", StringComparison.Ordinal) => (first, values) =>
                {
                    values.Clear();
                    for (var i = 0; i < values.Length; i++)
                    {
                        var (row, column) = Math.DivRem(first + i, slot.RowLength);
                        if (row == column && column <= RestDimension)
                        {
                            values[i] = 1;
                        }
                    }
                },
                _ => (_, values) => values.Clear(),
            });
    }

    /// <summary>
    /// The score llama.cpp computes for a sequence whose tokens have <paramref name="relevances"/> (0 for any token that
    /// is no relevant word; the last one is the sequence's final token).
    /// </summary>
    /// <param name="embeddingLength">The model's width (64).</param>
    public static double Score(IReadOnlyList<float> relevances, int embeddingLength = 64, double epsilon = 1e-6)
    {
        // RMS norm of (w, 1 - w, 0, ...).
        (double Relevant, double Other) Normalised(double w)
        {
            var scale = 1 / Math.Sqrt((w * w + (1 - w) * (1 - w)) / embeddingLength + epsilon);
            return (w * scale, (1 - w) * scale);
        }
        var mean = relevances.Select(w => Normalised(w)).Aggregate((Relevant: 0.0, Other: 0.0), (sum, n) => (sum.Relevant + n.Relevant, sum.Other + n.Other));
        var last = relevances[^1];
        var hidden = (Relevant: last + mean.Relevant / relevances.Count, Other: 1 - last + mean.Other / relevances.Count);
        var yes = hidden.Relevant / Math.Sqrt((hidden.Relevant * hidden.Relevant + hidden.Other * hidden.Other) / embeddingLength + epsilon);
        // The softmax of (yes, no = 0).
        return 1 / (1 + Math.Exp(-yes));
    }
}
