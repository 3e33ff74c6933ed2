using LlmStack.Api.Backends;
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
        Choices = [.. LlmStackChatOptions.ChoicesOf(response).Select((choice, index) => new TextCompletionChoice
        {
            Index = index,
            Text = (call.Echo ? call.PromptOf(index) : "") + choice.Text,
            Logprobs = call.Logprobs ? ToLogprobs(TokenLogprobsContent.In(choice.Messages.SelectMany(m => m.Contents)), call.Echo ? call.PromptOf(index).Length : 0) : null,
            FinishReason = ReplyContent.FinishReasonOf(choice.FinishReason, madeToolCalls: false),
        })],
        Usage = response.Usage?.ToUsage(),
    };

    /// <summary>
    /// Completions' shape of log probabilities: parallel lists, each token's alternatives as token to log probability
    /// (the chosen token among them, as OpenAI lists up to logprobs + 1), and where each token starts in the text.
    /// </summary>
    /// <param name="offset">Where the first token starts in the choice's text.</param>
    public static CompletionLogprobs ToLogprobs(IReadOnlyList<TokenLogprob> tokens, int offset)
    {
        var offsets = new List<int>(tokens.Count);
        foreach (var token in tokens)
        {
            offsets.Add(offset);
            offset += token.Token.Length;
        }
        return new CompletionLogprobs
        {
            Tokens = [.. tokens.Select(t => t.Token)],
            TokenLogprobs = [.. tokens.Select(t => t.Logprob)],
            TopLogprobs = [.. tokens.Select(t =>
            {
                var top = new Dictionary<string, double>();
                foreach (var alternative in t.Top)
                {
                    top.TryAdd(alternative.Token, alternative.Logprob);
                }
                top.TryAdd(t.Token, t.Logprob);
                return top;
            })],
            TextOffset = offsets,
        };
    }
}
