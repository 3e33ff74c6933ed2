using System.Text.Json.Serialization;

namespace LlmStack.Api.Contracts;

/// <summary>The non-streaming answer: <c>"object": "chat.completion"</c>.</summary>
internal sealed record ChatCompletion
{
    public required string Id { get; init; }

    public string Object => "chat.completion";

    public required long Created { get; init; }

    public required string Model { get; init; }

    public required List<ChatCompletionChoice> Choices { get; init; }

    public Usage? Usage { get; init; }
}

internal sealed record ChatCompletionChoice
{
    public int Index { get; init; }

    public required AssistantMessage Message { get; init; }

    /// <summary>Present when the request asked (<c>logprobs: true</c>).</summary>
    public ChatLogprobs? Logprobs { get; init; }

    public required string FinishReason { get; init; }
}

/// <summary>The log probabilities of a reply's tokens (or a chunk's), in order.</summary>
internal sealed record ChatLogprobs
{
    public required List<ChatTokenLogprob> Content { get; init; }
}

internal sealed record ChatTokenLogprob
{
    public required string Token { get; init; }

    public required double Logprob { get; init; }

    /// <summary>The token's UTF-8 bytes (a character may span tokens).</summary>
    public required List<int> Bytes { get; init; }

    /// <summary>The most likely tokens at this position, most likely first.</summary>
    public List<ChatTopLogprob>? TopLogprobs { get; init; }
}

internal sealed record ChatTopLogprob
{
    public required string Token { get; init; }

    public required double Logprob { get; init; }

    public required List<int> Bytes { get; init; }
}

internal sealed record AssistantMessage
{
    public string Role => "assistant";

    // OpenAI writes "content": null beside tool calls; some clients test for the key.
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public string? Content { get; init; }

    /// <summary>The model's reasoning, apart from its reply (llama.cpp's server, vLLM and DeepSeek name it so).</summary>
    public string? ReasoningContent { get; init; }

    public List<ToolCall>? ToolCalls { get; init; }
}

/// <summary>One event of a stream: <c>"object": "chat.completion.chunk"</c>.</summary>
internal sealed record ChatCompletionChunk
{
    public required string Id { get; init; }

    public string Object => "chat.completion.chunk";

    public required long Created { get; init; }

    public required string Model { get; init; }

    /// <summary>One choice, or none in the final usage chunk.</summary>
    public required List<ChunkChoice> Choices { get; init; }

    public Usage? Usage { get; init; }
}

internal sealed record ChunkChoice
{
    public int Index { get; init; }

    public required ChunkDelta Delta { get; init; }

    /// <summary>The log probabilities of this chunk's tokens, when the request asked.</summary>
    public ChatLogprobs? Logprobs { get; init; }

    // null on every chunk but the last, as OpenAI sends it.
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public string? FinishReason { get; init; }
}

internal sealed record ChunkDelta
{
    public string? Role { get; init; }

    public string? Content { get; init; }

    public string? ReasoningContent { get; init; }

    public List<ToolCallDelta>? ToolCalls { get; init; }
}

/// <summary>A tool call in a stream: <see cref="Index"/> ties the fragments of one call together.</summary>
internal sealed record ToolCallDelta
{
    public int Index { get; init; }

    public string? Id { get; init; }

    public string? Type { get; init; }

    public FunctionCall? Function { get; init; }
}

internal sealed record Usage
{
    public int PromptTokens { get; init; }

    public int CompletionTokens { get; init; }

    public int TotalTokens { get; init; }

    /// <summary>Present when the backend says how many prompt tokens it found cached (embedded, OpenAI-compatible upstreams).</summary>
    public PromptTokensDetails? PromptTokensDetails { get; init; }
}

/// <summary>OpenAI's <c>prompt_tokens_details</c>: prompt tokens whose processing a prefix cache saved.</summary>
internal sealed record PromptTokensDetails
{
    public int CachedTokens { get; init; }
}
