using LlmStack.Api.Contracts;
using LlmStack.Api.Endpoints;
using LlmStack.Api.Pipeline;
using Microsoft.Extensions.AI;

namespace LlmStack.Api.Completions;

/// <summary>A model's reply as a <c>text_completion</c>.</summary>
internal static class CompletionResponseMapping
{
    public static TextCompletion ToTextCompletion(this ChatResponse response, CompletionIdentity completion, TextCompletionCall call) => new()
    {
        Id = completion.Id,
        Created = completion.Created,
        Model = completion.Model,
        Choices =
        [
            new TextCompletionChoice
            {
                Text = (call.Echo ? call.Prompt : "") + response.Text,
                FinishReason = ReplyContent.FinishReasonOf(response.FinishReason, madeToolCalls: false),
            },
        ],
        Usage = response.Usage?.ToUsage(),
    };
}
