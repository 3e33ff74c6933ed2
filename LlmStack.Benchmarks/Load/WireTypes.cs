using System.Text.Json;
using System.Text.Json.Serialization;

namespace LlmStack.Benchmarks.Load;

// Only the parts of OpenAI's chat completion shapes that a load generator sends and reads.

public sealed record BenchChatRequest(
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("messages")] IReadOnlyList<BenchMessage> Messages,
    [property: JsonPropertyName("max_tokens")] int MaxTokens,
    [property: JsonPropertyName("temperature")] float Temperature,
    [property: JsonPropertyName("seed")] long Seed)
{
    [JsonPropertyName("stream")]
    public bool Stream => true;

    [JsonPropertyName("stream_options")]
    public BenchStreamOptions StreamOptions { get; } = new(IncludeUsage: true);
}

public sealed record BenchStreamOptions([property: JsonPropertyName("include_usage")] bool IncludeUsage);

public sealed record BenchMessage(
    [property: JsonPropertyName("role")] string Role,
    [property: JsonPropertyName("content")] string Content);

public sealed record BenchChunk(
    [property: JsonPropertyName("choices")] IReadOnlyList<BenchChoice>? Choices,
    [property: JsonPropertyName("usage")] BenchUsage? Usage,
    [property: JsonPropertyName("error")] BenchError? Error);

public sealed record BenchChoice([property: JsonPropertyName("delta")] BenchDelta? Delta);

public sealed record BenchDelta([property: JsonPropertyName("content")] string? Content);

public sealed record BenchUsage(
    [property: JsonPropertyName("prompt_tokens")] int PromptTokens,
    [property: JsonPropertyName("completion_tokens")] int CompletionTokens,
    [property: JsonPropertyName("prompt_tokens_details")] BenchPromptTokensDetails? PromptTokensDetails = null);

public sealed record BenchPromptTokensDetails([property: JsonPropertyName("cached_tokens")] int? CachedTokens);

public sealed record BenchError(
    [property: JsonPropertyName("message")] string? Message,
    [property: JsonPropertyName("code")] string? Code);

/// <summary>An error response body: <c>{"error": {...}}</c>.</summary>
public sealed record BenchErrorBody([property: JsonPropertyName("error")] BenchError? Error);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, WriteIndented = true)]
[JsonSerializable(typeof(BenchChatRequest))]
[JsonSerializable(typeof(BenchChunk))]
[JsonSerializable(typeof(BenchErrorBody))]
[JsonSerializable(typeof(BenchmarkReport))]
internal sealed partial class BenchJsonContext : JsonSerializerContext;
