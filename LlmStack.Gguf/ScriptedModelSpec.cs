namespace LlmStack.Gguf;

/// <summary>What a scripted model says, and how it is written.</summary>
/// <param name="Reply">The exact text every request gets back (then end-of-turn).</param>
public sealed record ScriptedModelSpec(string Reply)
{
    /// <summary>Never end: after the last piece the reply starts again (for streaming, cancellation and load tests).</summary>
    public bool Loop { get; init; }

    /// <summary><c>llama</c> or <c>qwen2</c>.</summary>
    public string Architecture { get; init; } = ModelShape.Qwen2;

    public GgmlType MatrixType { get; init; } = GgmlType.F32;

    /// <summary><c>general.name</c>.</summary>
    public string Name { get; init; } = "llmstack-scripted";

    /// <summary>
    /// <c>tokenizer.chat_template</c>; null is ChatML (e.g. <see cref="ByteLevelBpeVocabulary.ThinkingChatMLTemplate"/> for a
    /// reasoning model, <see cref="ByteLevelBpeVocabulary.Llama3Template"/> for Llama 3's markers and end-of-turn token).
    /// </summary>
    public string? ChatTemplate { get; init; }

    /// <summary>Seed of the small random attention and feed-forward weights.</summary>
    public ulong Seed { get; init; } = 42;

    /// <summary>
    /// The reply as explicit tokens in byte-level form (see <see cref="ByteLevelBpeVocabulary.Encode"/>),
    /// instead of <see cref="ScriptedModel.Pieces"/> of <see cref="Reply"/>; they must spell
    /// <see cref="Reply"/> exactly. Lets a test split a character's UTF-8 bytes over tokens
    /// (e.g. <c>"Ã"</c>, <c>"©"</c> for the two bytes of <c>é</c>).
    /// </summary>
    public IReadOnlyList<string>? Tokens { get; init; }
}
