using System.Text.Json;
using Microsoft.Extensions.AI;

namespace LlmStack.Api.Backends;

/// <summary>
/// A model's tokenizer, for <c>/tokenize</c> and <c>/detokenize</c>: the embedded engine's own vocabulary, or an
/// upstream server's endpoints of the same names.
/// </summary>
internal interface IModelTokenizer
{
    Task<TokenizedText> TokenizeAsync(TokenizeInput input, CancellationToken cancellationToken);

    /// <summary>The text of <paramref name="tokens"/>, special tokens written out (<c>&lt;|im_start|&gt;</c>).</summary>
    Task<string> DetokenizeAsync(IReadOnlyList<int> tokens, CancellationToken cancellationToken);
}

/// <summary>
/// What to tokenize: a text (<see cref="Text"/>), or a conversation rendered with the model's chat template exactly
/// as a chat completion renders it (<see cref="Messages"/>).
/// </summary>
internal sealed record TokenizeInput
{
    public string? Text { get; init; }

    /// <summary>The text form: add the model's BOS token (when the model uses one).</summary>
    public bool AddSpecial { get; init; }

    /// <summary>The text form: special tokens written in the text (<c>&lt;|im_start|&gt;</c>) become control tokens.</summary>
    public bool ParseSpecial { get; init; } = true;

    public IList<ChatMessage>? Messages { get; init; }

    /// <summary>The conversation's tools and instructions, as a chat completion maps them.</summary>
    public ChatOptions? Options { get; init; }

    /// <summary>The conversation form: end with the assistant's turn marker, as a chat request's prompt does.</summary>
    public bool AddGenerationPrompt { get; init; } = true;

    /// <summary>The client's <c>messages</c> and <c>tools</c> as sent, for an upstream that renders its template itself.</summary>
    public JsonElement? WireMessages { get; init; }

    public JsonElement? WireTools { get; init; }

    /// <summary>Each token's piece is wanted too.</summary>
    public bool WithPieces { get; init; }
}

/// <param name="Tokens">The token ids.</param>
/// <param name="Pieces">With <see cref="TokenizeInput.WithPieces"/>: what each token writes, as bytes (special tokens written out).</param>
/// <param name="MaxModelLength">The tokens one request may hold, when the backend says.</param>
internal sealed record TokenizedText(IReadOnlyList<int> Tokens, IReadOnlyList<byte[]>? Pieces, int? MaxModelLength);
