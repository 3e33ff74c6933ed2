using System.Text.Json;

namespace LlmStack.Api.Contracts;

// POST /tokenize and /detokenize in the shapes vLLM and llama.cpp's llama-server serve. The text goes as vLLM's
// "prompt" or llama-server's "content", each with its own flags and defaults; a conversation as vLLM's chat form.

internal sealed record TokenizeRequest
{
    /// <summary>May be left out when the API serves one model (llama-server's requests name none).</summary>
    public string? Model { get; init; }

    /// <summary>vLLM's text form; <see cref="AddSpecialTokens"/> defaults to true.</summary>
    public string? Prompt { get; init; }

    /// <summary>llama-server's text form; <see cref="AddSpecial"/> defaults to false.</summary>
    public string? Content { get; init; }

    /// <summary>vLLM's chat form: the conversation rendered with the model's chat template, as a chat completion renders it.</summary>
    public List<ChatCompletionMessage?>? Messages { get; init; }

    public List<ToolDefinition?>? Tools { get; init; }

    /// <summary>The chat form: end with the assistant's turn marker (default true).</summary>
    public bool? AddGenerationPrompt { get; init; }

    /// <summary>vLLM: add the model's BOS token.</summary>
    public bool? AddSpecialTokens { get; init; }

    /// <summary>llama-server: add the model's BOS token.</summary>
    public bool? AddSpecial { get; init; }

    /// <summary>llama-server: special tokens written in the text become control tokens (default true).</summary>
    public bool? ParseSpecial { get; init; }

    /// <summary>llama-server: each token as <c>{"id", "piece"}</c>.</summary>
    public bool? WithPieces { get; init; }

    /// <summary>vLLM: each token's text in <c>token_strs</c>.</summary>
    public bool? ReturnTokenStrs { get; init; }
}

internal sealed record TokenizeResponse
{
    public required int Count { get; init; }

    /// <summary>The tokens one request may hold (prompt + reply), when known.</summary>
    public int? MaxModelLen { get; init; }

    public required List<int> Tokens { get; init; }

    public List<string>? TokenStrs { get; init; }
}

/// <summary>llama-server's <c>with_pieces</c> answer.</summary>
internal sealed record TokenizeWithPiecesResponse
{
    public required int Count { get; init; }

    public int? MaxModelLen { get; init; }

    public required List<TokenPiece> Tokens { get; init; }
}

/// <param name="Piece">What the token writes: a string, or (not valid UTF-8 on its own) an array of its bytes.</param>
internal sealed record TokenPiece(int Id, JsonElement Piece);

internal sealed record DetokenizeRequest
{
    public string? Model { get; init; }

    public List<int>? Tokens { get; init; }
}

/// <summary>The text under both names: vLLM's <c>prompt</c>, llama-server's <c>content</c>.</summary>
internal sealed record DetokenizeResponse(string Prompt, string Content);
