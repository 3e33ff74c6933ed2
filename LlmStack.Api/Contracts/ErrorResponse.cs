using System.Text.Json.Serialization;

namespace LlmStack.Api.Contracts;

/// <summary>OpenAI's error envelope: <c>{"error":{"message","type","param","code"}}</c>.</summary>
internal sealed record ErrorResponse(ErrorDetail Error);

internal sealed record ErrorDetail
{
    public required string Message { get; init; }

    public required string Type { get; init; }

    // Always present (null when no single field is at fault), as OpenAI sends them.
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public string? Param { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public string? Code { get; init; }
}
