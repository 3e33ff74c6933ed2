using LlmStack.Api.Backends;
using LlmStack.Api.Contracts;
using LlmStack.Api.Endpoints;
using LlmStack.Api.Pipeline;
using Microsoft.Extensions.AI;

namespace LlmStack.Api.ChatCompletions;

/// <summary>Microsoft.Extensions.AI's responses in OpenAI's wire shapes.</summary>
internal static class ChatResponseMapping
{
    /// <param name="logprobs">Whether the request asked for log probabilities.</param>
    public static ChatCompletion ToChatCompletion(this ChatResponse response, CompletionIdentity completion, bool logprobs) => new()
    {
        Id = completion.Id,
        Created = completion.Created,
        Model = completion.Model,
        Choices = [.. LlmStackChatOptions.ChoicesOf(response).Select((choice, index) => ToChoice(choice, index, logprobs))],
        Usage = response.Usage?.ToUsage(),
    };

    private static ChatCompletionChoice ToChoice(ChatResponse choice, int index, bool logprobs)
    {
        var contents = choice.Messages.SelectMany(m => m.Contents).ToList();
        var calls = contents.OfType<FunctionCallContent>().Select(ToToolCall).ToList();
        var text = choice.Text;
        return new ChatCompletionChoice
        {
            Index = index,
            Message = new AssistantMessage
            {
                Content = text.Length == 0 && calls.Count > 0 ? null : text,
                ReasoningContent = ReasoningOf(contents) is { Length: > 0 } reasoning ? reasoning : null,
                ToolCalls = calls.Count > 0 ? calls : null,
            },
            Logprobs = logprobs ? ToLogprobs(contents) : null,
            FinishReason = ReplyContent.FinishReasonOf(choice.FinishReason, calls.Count > 0),
        };
    }

    /// <summary>The log probabilities among <paramref name="contents"/> in chat's wire shape.</summary>
    public static ChatLogprobs ToLogprobs(IEnumerable<AIContent> contents) => new()
    {
        Content = [.. TokenLogprobsContent.In(contents).Select(token => new ChatTokenLogprob
        {
            Token = token.Token,
            Logprob = token.Logprob,
            Bytes = [.. token.Bytes.Select(b => (int)b)],
            TopLogprobs = [.. token.Top.Select(top => new ChatTopLogprob { Token = top.Token, Logprob = top.Logprob, Bytes = [.. top.Bytes.Select(b => (int)b)] })],
        })],
    };

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
