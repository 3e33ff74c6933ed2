namespace LlmStack.Gguf;

/// <summary>How a random-weight model is written.</summary>
public sealed record RandomModelSpec
{
    /// <summary>The dimensions; e.g. <see cref="ModelShape.Qwen25_7B"/> to reproduce that model's cost per token.</summary>
    public ModelShape Shape { get; init; } = ModelShape.Tiny();

    public GgmlType MatrixType { get; init; } = GgmlType.F32;

    public ulong Seed { get; init; } = 7;

    /// <summary>
    /// Make end-of-turn (and every control token) practically impossible, so generation always runs to the
    /// requested number of tokens - what a benchmark needs for a fixed output length.
    /// </summary>
    public bool SuppressEndOfTurn { get; init; }

    /// <summary>
    /// Make every byte token above 0x7F practically impossible, so the model writes ASCII only. Sampled freely,
    /// single byte tokens also form malformed UTF-8 (overlong forms) that no trained model writes and that a
    /// grammar, which sees decoded code points, cannot tell from valid text.
    /// </summary>
    public bool AsciiOnly { get; init; }

    /// <summary><c>general.name</c>.</summary>
    public string Name { get; init; } = "llmstack-random";
}
