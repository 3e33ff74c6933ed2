namespace LlmStack.Gguf;

/// <summary>What a tensor is for, so a weight source can give each kind its own values.</summary>
public enum TensorRole
{
    /// <summary><c>token_embd.weight</c>: one row of <see cref="TensorSlot.RowLength"/> values per token.</summary>
    TokenEmbedding,

    /// <summary><c>output.weight</c>: one row per token, read against the final hidden state.</summary>
    Output,

    /// <summary>RMS norm weights (<c>*_norm.weight</c>).</summary>
    Norm,

    /// <summary>qwen2's q/k/v biases.</summary>
    Bias,

    /// <summary>Attention and feed-forward projections.</summary>
    Projection,

    /// <summary><c>cls.output.weight</c>: a rerank head, one row per score, read against the pooled hidden state.</summary>
    Classifier,
}
