namespace LlmStack.Web.Chat;

/// <summary>What the stats line under a reply shows. Token counts come from the API's usage report.</summary>
public sealed record ReplyStats(
    string? Model,
    double? TimeToFirstTokenSeconds,
    double? TokensPerSecond,
    long? InputTokens,
    long? OutputTokens,
    double DurationSeconds,
    string? FinishReason);
