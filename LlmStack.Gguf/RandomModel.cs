namespace LlmStack.Gguf;

/// <summary>
/// A model with random weights: it writes arbitrary text, through the same kernels and at the same cost per
/// token as a trained model of its <see cref="RandomModelSpec.Shape"/>.
/// </summary>
/// <example><code>RandomModel.Write(path, new RandomModelSpec { Shape = ModelShape.Qwen25_0_5B, MatrixType = GgmlType.F16 });</code></example>
public static class RandomModel
{
    private const float EmbeddingAmplitude = 1f;

    // Dimension 0 of the residual stream is held at a positive constant (no projection writes to it), so a
    // control token whose output row is strongly negative there is never sampled.
    private const float ConstantDimension = 4f;
    private const float Suppression = -60f;

    public static void Write(string path, RandomModelSpec spec)
    {
        var vocabulary = ByteLevelBpeVocabulary.Create(size: spec.Shape.VocabularySize);
        HashSet<long> suppressed = spec.SuppressEndOfTurn
            ? [vocabulary.EndOfTextId, vocabulary.ImStartId, vocabulary.ImEndId]
            : [];
        if (spec.AsciiOnly)
        {
            suppressed.UnionWith(Enumerable.Range(0x80, 0x80).Select(b => (long)vocabulary.IdOf(ByteLevelBpeVocabulary.ByteToken((byte)b))));
        }

        new GgufModelBuilder(spec.Shape, vocabulary) { MatrixType = spec.MatrixType, Name = spec.Name }.Write(path, slot =>
        {
            if (GgufModelBuilder.Neutral(slot) is { } neutral)
            {
                return neutral;
            }
            // Projections keep the scale of their input (uniform with variance 1 / fan-in), so every block
            // moves the hidden state; with weaker blocks a model with tied embeddings repeats its last token.
            var amplitude = slot.Role is TensorRole.TokenEmbedding or TensorRole.Output ? EmbeddingAmplitude : MathF.Sqrt(3f / slot.RowLength);
            var noise = GgufModelBuilder.Noise(slot.Name, spec.Seed, amplitude);
            if (suppressed.Count == 0)
            {
                return noise;
            }
            return slot.Role switch
            {
                // With tied embeddings the embedding matrix is also the output matrix.
                TensorRole.TokenEmbedding or TensorRole.Output => (first, values) =>
                {
                    noise(first, values);
                    var tied = slot.Role == TensorRole.TokenEmbedding && spec.Shape.TiedEmbeddings;
                    for (var i = 0; i < values.Length; i++)
                    {
                        var (token, column) = Math.DivRem(first + i, slot.RowLength);
                        if (column == 0)
                        {
                            values[i] = suppressed.Contains(token) ? Suppression
                                : slot.Role == TensorRole.TokenEmbedding ? ConstantDimension
                                : 0f;
                        }
                        else if (suppressed.Contains(token) && (tied || slot.Role == TensorRole.Output))
                        {
                            values[i] = 0f;
                        }
                    }
                },
                // Projections into the residual stream leave dimension 0 alone.
                TensorRole.Projection when slot.Name.EndsWith("attn_output.weight", StringComparison.Ordinal)
                    || slot.Name.EndsWith("ffn_down.weight", StringComparison.Ordinal) => (first, values) =>
                {
                    noise(first, values);
                    for (var i = 0; i < values.Length; i++)
                    {
                        if ((first + i) / slot.RowLength == 0)
                        {
                            values[i] = 0f;
                        }
                    }
                },
                _ => noise,
            };
        });
    }
}
