namespace LlmStack.Gguf;

/// <summary>
/// Writes a llama/qwen2/qwen3 transformer as GGUF with a byte-level BPE vocabulary and a ChatML template; the
/// weights' values come from a <see cref="Func{TensorSlot, TensorFill}"/> (random, scripted, ...).
/// </summary>
public sealed class GgufModelBuilder(ModelShape shape, ByteLevelBpeVocabulary vocabulary)
{
    /// <summary>Element type of the 2-D matrices (norms and biases are always F32).</summary>
    public GgmlType MatrixType { get; init; } = GgmlType.F32;

    /// <summary><c>general.name</c>.</summary>
    public string Name { get; init; } = "llmstack-generated";

    /// <summary><c>tokenizer.chat_template</c>; null writes <see cref="ByteLevelBpeVocabulary.ChatMLTemplate"/>.</summary>
    public string? ChatTemplate { get; init; }

    /// <summary>
    /// The labels of a rerank head's outputs (<c>cls.output.weight</c>, one row each; qwen3 only), with
    /// <c>&lt;arch&gt;.pooling_type</c> rank: llama.cpp then passes the last token's final hidden state through the head
    /// and a softmax over its outputs, as for Qwen3-Reranker (<c>yes</c>, <c>no</c>): the first output's share is the
    /// score. Null writes no head.
    /// </summary>
    public IReadOnlyList<string>? ClassifierLabels { get; init; }

    public ModelShape Shape { get; } = shape;

    public ByteLevelBpeVocabulary Vocabulary { get; } = vocabulary;

    public void Write(string path, Func<TensorSlot, TensorFill> weights)
    {
        var writer = CreateWriter(weights);
        var directory = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path));
        if (directory is not null)
        {
            Directory.CreateDirectory(directory);
        }
        // Written aside and moved, so a reader never sees a half-written model.
        var partial = path + ".partial";
        writer.WriteTo(partial);
        File.Move(partial, path, overwrite: true);
    }

    public GgufWriter CreateWriter(Func<TensorSlot, TensorFill> weights)
    {
        Shape.Validate();
        var vocabularySize = Shape.VocabularySize ?? Vocabulary.Count;
        if (Vocabulary.Count != vocabularySize)
        {
            throw new ArgumentException($"The vocabulary has {Vocabulary.Count} tokens but the shape needs {vocabularySize}.");
        }
        var arch = Shape.Architecture;
        var writer = new GgufWriter()
            .Add("general.architecture", arch)
            .Add("general.name", Name)
            .Add("general.file_type", MatrixType switch
            {
                GgmlType.F32 => 0u,
                GgmlType.F16 => 1u,
                GgmlType.Q8_0 => 7u,
                _ => throw new NotSupportedException($"Matrix type {MatrixType} is not supported."),
            })
            .Add($"{arch}.vocab_size", (uint)vocabularySize)
            .Add($"{arch}.context_length", (uint)Shape.ContextLength)
            .Add($"{arch}.embedding_length", (uint)Shape.EmbeddingLength)
            .Add($"{arch}.block_count", (uint)Shape.BlockCount)
            .Add($"{arch}.feed_forward_length", (uint)Shape.FeedForwardLength)
            .Add($"{arch}.attention.head_count", (uint)Shape.HeadCount)
            .Add($"{arch}.attention.head_count_kv", (uint)Shape.HeadCountKv)
            .Add($"{arch}.attention.layer_norm_rms_epsilon", Shape.RmsNormEpsilon)
            .Add($"{arch}.rope.dimension_count", (uint)Shape.HeadDimension)
            .Add($"{arch}.rope.freq_base", Shape.RopeFreqBase);
        Vocabulary.WriteMetadata(writer, chatTemplate: ChatTemplate);
        if (ClassifierLabels is { } labels)
        {
            if (arch != ModelShape.Qwen3)
            {
                throw new ArgumentException($"A rerank head needs the {ModelShape.Qwen3} architecture (llama.cpp loads cls.output for it), not {arch}.");
            }
            // llama.cpp's LLAMA_POOLING_TYPE_RANK.
            writer.Add($"{arch}.pooling_type", 4u);
            writer.Add($"{arch}.classifier.output_labels", labels);
        }

        long embd = Shape.EmbeddingLength, kv = Shape.KvEmbeddingLength, ff = Shape.FeedForwardLength;
        void Tensor(string name, TensorRole role, long rowLength, long rows)
        {
            var slot = new TensorSlot(name, role, rowLength, rows);
            var type = role is TensorRole.Norm or TensorRole.Bias ? GgmlType.F32 : MatrixType;
            if (rows == 1 && role != TensorRole.Classifier)
            {
                writer.AddTensor(name, type, [rowLength], weights(slot));
            }
            else
            {
                writer.AddTensor(name, type, [rowLength, rows], weights(slot));
            }
        }

        Tensor("token_embd.weight", TensorRole.TokenEmbedding, embd, vocabularySize);
        Tensor("output_norm.weight", TensorRole.Norm, embd, 1);
        if (!Shape.TiedEmbeddings)
        {
            Tensor("output.weight", TensorRole.Output, embd, vocabularySize);
        }
        if (ClassifierLabels is { } outputs)
        {
            Tensor("cls.output.weight", TensorRole.Classifier, embd, outputs.Count);
        }
        for (var block = 0; block < Shape.BlockCount; block++)
        {
            var prefix = $"blk.{block}.";
            Tensor(prefix + "attn_norm.weight", TensorRole.Norm, embd, 1);
            Tensor(prefix + "attn_q.weight", TensorRole.Projection, embd, embd);
            Tensor(prefix + "attn_k.weight", TensorRole.Projection, embd, kv);
            Tensor(prefix + "attn_v.weight", TensorRole.Projection, embd, kv);
            if (arch == ModelShape.Qwen2)
            {
                Tensor(prefix + "attn_q.bias", TensorRole.Bias, embd, 1);
                Tensor(prefix + "attn_k.bias", TensorRole.Bias, kv, 1);
                Tensor(prefix + "attn_v.bias", TensorRole.Bias, kv, 1);
            }
            if (arch == ModelShape.Qwen3)
            {
                Tensor(prefix + "attn_q_norm.weight", TensorRole.Norm, Shape.HeadDimension, 1);
                Tensor(prefix + "attn_k_norm.weight", TensorRole.Norm, Shape.HeadDimension, 1);
            }
            Tensor(prefix + "attn_output.weight", TensorRole.Projection, embd, embd);
            Tensor(prefix + "ffn_norm.weight", TensorRole.Norm, embd, 1);
            Tensor(prefix + "ffn_gate.weight", TensorRole.Projection, embd, ff);
            Tensor(prefix + "ffn_up.weight", TensorRole.Projection, embd, ff);
            Tensor(prefix + "ffn_down.weight", TensorRole.Projection, ff, embd);
        }
        return writer;
    }

    /// <summary>
    /// Reproducible uniform noise in [-<paramref name="amplitude"/>, <paramref name="amplitude"/>]: each
    /// element is a hash of its index, so chunks can be generated in any order.
    /// </summary>
    public static TensorFill Noise(string tensorName, ulong seed, float amplitude) => (first, values) =>
    {
        var tensorSeed = seed ^ (ulong)StableHash(tensorName) * 0x9E3779B97F4A7C15UL;
        for (var i = 0; i < values.Length; i++)
        {
            var bits = SplitMix64(tensorSeed + (ulong)(first + i));
            // 24 random bits -> [-1, 1)
            values[i] = ((bits >> 40) * (1f / (1 << 23)) - 1f) * amplitude;
        }
    };

    /// <summary>Norm weights of 1 and zero biases: the neutral values every weight source starts from.</summary>
    public static TensorFill? Neutral(TensorSlot slot) => slot.Role switch
    {
        TensorRole.Norm => (_, values) => values.Fill(1f),
        TensorRole.Bias => (_, values) => values.Clear(),
        _ => null,
    };

    private static ulong SplitMix64(ulong x)
    {
        x += 0x9E3779B97F4A7C15UL;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        return x ^ (x >> 31);
    }

    // string.GetHashCode is randomised per process; files must be reproducible.
    private static int StableHash(string text)
    {
        unchecked
        {
            var hash = (int)2166136261;
            foreach (var c in text)
            {
                hash = (hash ^ c) * 16777619;
            }
            return hash;
        }
    }
}
