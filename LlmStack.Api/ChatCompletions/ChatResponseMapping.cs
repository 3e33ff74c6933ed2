using LlmStack.Api.Contracts;
using LlmStack.Api.Endpoints;
using LlmStack.Api.Pipeline;
using Microsoft.Extensions.AI;

namespace LlmStack.Api.ChatCompletions;

/// <summary>Microsoft.Extensions.AI's responses in OpenAI's wire shapes.</summary>
internal static class ChatResponseMapping
{
    public static ChatCompletion ToChatCompletion(this ChatResponse response, CompletionIdentity completion)
    {
        var calls = response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>().Select(ToToolCall).ToList();
        var text = response.Text;
        return new ChatCompletion
        {
            Id = completion.Id,
            Created = completion.Created,
            Model = completion.Model,
            Choices =
            [
                new ChatCompletionChoice
                {
                    Message = new AssistantMessage
                    {
                        Content = text.Length == 0 && calls.Count > 0 ? null : text,
                        ReasoningContent = ReasoningOf(response.Messages.SelectMany(m => m.Contents)) is { Length: > 0 } reasoning ? reasoning : null,
                        ToolCalls = calls.Count > 0 ? calls : null,
                    },
                    FinishReason = ReplyContent.FinishReasonOf(response.FinishReason, calls.Count > 0),
                },
            ],
            Usage = response.Usage?.ToUsage(),
        };
    }

    /// <summary>The reasoning text among <paramref name="contents"/> ("" when there is none).</summary>
    public static string ReasoningOf(IEnumerable<AIContent> contents) =>
        string.Concat(contents.OfType<TextReasoningContent>().Select(r => r.Text));

    public static ToolCall ToToolCall(FunctionCallContent call) => new()
    {
        Id = call.CallId,
        Type = "function",
        Function = new FunctionCall { Name = call.Name, Arguments = FunctionArguments.Serialize(call.Arguments) },
    };
}
