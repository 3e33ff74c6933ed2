using Microsoft.Extensions.AI;

namespace LlmStack.Api.Pipeline;

/// <summary>What counts as part of a reply, decided once for the outcome, the first-token deadline and the writers.</summary>
internal static class ReplyContent
{
    /// <summary>
    /// True when the update carries part of the reply: non-empty text, reasoning or a tool call. An update with only a
    /// role, usage, a finish reason or empty text (servers open streams with one) is no token.
    /// </summary>
    public static bool HasContent(this ChatResponseUpdate update) =>
        update.Contents.Any(content => content is TextContent { Text.Length: > 0 } or TextReasoningContent { Text.Length: > 0 } or FunctionCallContent);
}
