using LlmStack.Api.Backends;
using Microsoft.Extensions.AI;

namespace LlmStack.Api.Pipeline;

/// <summary>What counts as part of a reply, decided once for the outcome, the first-token deadline and the writers.</summary>
internal static class ReplyContent
{
    /// <summary>
    /// True when the update carries part of the reply: non-empty text, reasoning, a tool call or a fragment of its arguments. An update with only a
    /// role, usage, a finish reason or empty text (servers open streams with one) is no token.
    /// </summary>
    public static bool HasContent(this ChatResponseUpdate update) =>
        update.Contents.Any(content => content is TextContent { Text.Length: > 0 } or TextReasoningContent { Text.Length: > 0 } or FunctionCallContent
            or FunctionCallArgumentsContent { Fragment.Length: > 0 });

    /// <summary>OpenAI's finish_reason of a reply that ended; a backend that reports none finished normally.</summary>
    public static string FinishReasonOf(ChatFinishReason? reason, bool madeToolCalls) =>
        reason?.Value ?? (madeToolCalls ? ChatFinishReason.ToolCalls.Value : ChatFinishReason.Stop.Value);
}
