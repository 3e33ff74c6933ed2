using System.Text.Json;

namespace LlmStack.Api.Contracts;

// The body of POST /v1/chat/completions as OpenAI defines it. Fields that take several JSON shapes
// (content, stop, tool_choice) stay JsonElement here and are checked where they are mapped, so that a
// wrong shape is a 400 naming the exact path (messages[2].content[0].text) rather than a converter error.

internal sealed record ChatCompletionRequest : ISamplingRequest
{
    public string? Model { get; init; }

    public List<ChatCompletionMessage?>? Messages { get; init; }

    public bool? Stream { get; init; }

    public StreamOptions? StreamOptions { get; init; }

    public int? MaxTokens { get; init; }

    public int? MaxCompletionTokens { get; init; }

    public double? Temperature { get; init; }

    public double? TopP { get; init; }

    public double? PresencePenalty { get; init; }

    public double? FrequencyPenalty { get; init; }

    /// <summary>A string or an array of up to four strings.</summary>
    public JsonElement? Stop { get; init; }

    public long? Seed { get; init; }

    public ResponseFormat? ResponseFormat { get; init; }

    public List<ToolDefinition?>? Tools { get; init; }

    /// <summary><c>"none"</c>, <c>"auto"</c>, <c>"required"</c> or <c>{"type":"function","function":{"name":...}}</c>.</summary>
    public JsonElement? ToolChoice { get; init; }

    public bool? ParallelToolCalls { get; init; }

    public string? User { get; init; }

    public int? N { get; init; }

    public bool? Logprobs { get; init; }

    public int? TopLogprobs { get; init; }
}

internal sealed record StreamOptions
{
    public bool? IncludeUsage { get; init; }
}

internal sealed record ChatCompletionMessage
{
    public string? Role { get; init; }

    /// <summary>A string, an array of content parts, or null (an assistant message with tool calls).</summary>
    public JsonElement? Content { get; init; }

    public string? Name { get; init; }

    public List<ToolCall?>? ToolCalls { get; init; }

    public string? ToolCallId { get; init; }
}

internal sealed record ResponseFormat
{
    /// <summary><c>text</c>, <c>json_object</c> or <c>json_schema</c>.</summary>
    public string? Type { get; init; }

    public JsonSchemaFormat? JsonSchema { get; init; }
}

internal sealed record JsonSchemaFormat
{
    public string? Name { get; init; }

    public string? Description { get; init; }

    public JsonElement? Schema { get; init; }

    public bool? Strict { get; init; }
}

internal sealed record ToolDefinition
{
    public string? Type { get; init; }

    public FunctionDefinition? Function { get; init; }
}

internal sealed record FunctionDefinition
{
    public string? Name { get; init; }

    public string? Description { get; init; }

    public JsonElement? Parameters { get; init; }

    public bool? Strict { get; init; }
}

/// <summary>A tool call, in an assistant message of the request and in responses.</summary>
internal sealed record ToolCall
{
    public string? Id { get; init; }

    public string? Type { get; init; }

    public FunctionCall? Function { get; init; }
}

internal sealed record FunctionCall
{
    public string? Name { get; init; }

    /// <summary>The arguments as a JSON text, as OpenAI sends them.</summary>
    public string? Arguments { get; init; }
}
