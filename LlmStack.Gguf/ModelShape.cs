namespace LlmStack.Gguf;

/// <summary>
/// The dimensions of a transformer, which alone decide its compute per token. <see cref="Architecture"/> is
/// <c>llama</c>, <c>qwen2</c> (qwen2 adds biases to the attention's q/k/v projections) or <c>qwen3</c> (no biases, RMS
/// norms of the queries and keys; llama.cpp gives it a rerank head, see <see cref="RerankerModel"/>).
/// </summary>
public sealed record ModelShape
{
    public const string Llama = "llama";
    public const string Qwen2 = "qwen2";
    public const string Qwen3 = "qwen3";

    public string Architecture { get; init; } = Qwen2;

    public required int EmbeddingLength { get; init; }

    public required int BlockCount { get; init; }

    public required int FeedForwardLength { get; init; }

    public required int HeadCount { get; init; }

    /// <summary>Key/value heads (grouped-query attention); equal to <see cref="HeadCount"/> when not grouped.</summary>
    public required int HeadCountKv { get; init; }

    /// <summary>The context length the model was trained for (<c>&lt;arch&gt;.context_length</c>).</summary>
    public int ContextLength { get; init; } = 32768;

    /// <summary>Vocabulary size; null for "as many tokens as the tokenizer has".</summary>
    public int? VocabularySize { get; init; }

    /// <summary>Reuse <c>token_embd</c> as the output matrix (no <c>output.weight</c>), as Qwen2.5 0.5B-3B do.</summary>
    public bool TiedEmbeddings { get; init; }

    public float RopeFreqBase { get; init; } = 1_000_000f;

    public float RmsNormEpsilon { get; init; } = 1e-6f;

    public int HeadDimension => EmbeddingLength / HeadCount;

    public int KvEmbeddingLength => HeadDimension * HeadCountKv;

    /// <summary>A tiny shape for tests: real kernels, microseconds per token.</summary>
    public static ModelShape Tiny(int embeddingLength = 64, string architecture = Qwen2) => new()
    {
        Architecture = architecture,
        EmbeddingLength = embeddingLength,
        BlockCount = 2,
        FeedForwardLength = embeddingLength * 2,
        HeadCount = 4,
        HeadCountKv = 4,
        ContextLength = 4096,
    };

    // Qwen2.5's published configurations (config.json of each Hugging Face model).

    public static ModelShape Qwen25_0_5B { get; } = new()
    {
        EmbeddingLength = 896, BlockCount = 24, FeedForwardLength = 4864, HeadCount = 14, HeadCountKv = 2,
        VocabularySize = 151_936, TiedEmbeddings = true,
    };

    public static ModelShape Qwen25_1_5B { get; } = new()
    {
        EmbeddingLength = 1536, BlockCount = 28, FeedForwardLength = 8960, HeadCount = 12, HeadCountKv = 2,
        VocabularySize = 151_936, TiedEmbeddings = true,
    };

    public static ModelShape Qwen25_3B { get; } = new()
    {
        EmbeddingLength = 2048, BlockCount = 36, FeedForwardLength = 11008, HeadCount = 16, HeadCountKv = 2,
        VocabularySize = 151_936, TiedEmbeddings = true,
    };

    public static ModelShape Qwen25_7B { get; } = new()
    {
        EmbeddingLength = 3584, BlockCount = 28, FeedForwardLength = 18944, HeadCount = 28, HeadCountKv = 4,
        VocabularySize = 152_064,
    };

    /// <summary>Parameters in the weight matrices and norms (embeddings included).</summary>
    public long ParameterCount(int vocabularySize)
    {
        long embd = EmbeddingLength, kv = KvEmbeddingLength, ff = FeedForwardLength;
        var attention = embd * embd * 2 + embd * kv * 2 + (Architecture == Qwen2 ? embd + kv * 2 : 0) + (Architecture == Qwen3 ? HeadDimension * 2 : 0);
        var block = attention + embd * ff * 3 + embd * 2;
        var embeddings = embd * vocabularySize * (TiedEmbeddings ? 1 : 2);
        return block * BlockCount + embeddings + embd;
    }

    internal void Validate()
    {
        if (Architecture is not (Llama or Qwen2 or Qwen3))
        {
            throw new ArgumentException($"Architecture '{Architecture}' is not supported; use '{Llama}', '{Qwen2}' or '{Qwen3}'.");
        }
        if (EmbeddingLength % HeadCount != 0 || HeadCount % HeadCountKv != 0 || HeadDimension % 2 != 0)
        {
            throw new ArgumentException(
                $"Embedding length {EmbeddingLength} must split into {HeadCount} heads of even size, and {HeadCount} heads into {HeadCountKv} key/value groups.");
        }
    }
}
