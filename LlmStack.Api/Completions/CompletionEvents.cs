using LlmStack.Api.Backends;
using LlmStack.Api.Contracts;
using LlmStack.Api.Endpoints;
using LlmStack.Api.Errors;
using LlmStack.Api.Pipeline;
using Microsoft.Extensions.AI;

namespace LlmStack.Api.Completions;

/// <summary>
/// A streamed text completion's events, the way OpenAI writes them: one <c>data: {text_completion}</c> per piece of
/// text (the prompt first, with <c>echo</c>), the last one with the finish reason, then the usage chunk (when asked)
/// and <c>data: [DONE]</c>; a failure after the first byte: <c>data: {"error":...}</c>, then <c>data: [DONE]</c>.
/// </summary>
/// <remarks>
/// With several choices (<c>n</c>, several prompts) the chunks interleave, each naming its <c>index</c>; each choice ends
/// with its own finish reason.
/// </remarks>
internal sealed class CompletionEvents(CompletionIdentity completion, TextCompletionCall call, RequestOutcome outcome, int choices = 1) : IStreamEvents
{
    // Where the next token starts in each choice's text (its log probabilities' text_offset).
    private readonly int[] _offsets = [.. Enumerable.Range(0, choices).Select(index => call.Echo ? call.PromptOf(index).Length : 0)];
    private readonly bool[] _finished = new bool[choices];

    public async ValueTask StartAsync(ServerSentEvents sse, CancellationToken cancellationToken)
    {
        for (var index = 0; call.Echo && index < _finished.Length; index++)
        {
            await WriteAsync(sse, Chunk(index, call.PromptOf(index)), cancellationToken);
        }
    }

    public async ValueTask UpdateAsync(ServerSentEvents sse, ChatResponseUpdate update, CancellationToken cancellationToken)
    {
        var index = LlmStackChatOptions.ChoiceOf(update);
        var tokens = TokenLogprobsContent.In(update.Contents);
        var text = update.Text;
        if (text.Length > 0 || tokens.Count > 0)
        {
            var logprobs = call.Logprobs ? CompletionResponseMapping.ToLogprobs(tokens, _offsets[index]) : null;
            _offsets[index] += tokens.Sum(t => t.Token.Length);
            await WriteAsync(sse, Chunk(choices: [new TextCompletionChoice { Index = index, Text = text, Logprobs = logprobs }]), cancellationToken);
        }
        // One of several choices ended (a single choice ends with the reply, below).
        if (_finished.Length > 1 && update.FinishReason is { } finish && !_finished[index])
        {
            _finished[index] = true;
            await WriteAsync(sse, Chunk(index, "", ReplyContent.FinishReasonOf(finish, madeToolCalls: false)), cancellationToken);
        }
    }

    public async ValueTask CompletedAsync(ServerSentEvents sse, CancellationToken cancellationToken)
    {
        for (var index = 0; index < _finished.Length; index++)
        {
            if (!_finished[index])
            {
                await WriteAsync(sse, Chunk(index, "", CompletionStreamEnd.FinishReasonOf(outcome)), cancellationToken);
            }
        }
        await sse.WriteUsageAndDoneAsync(outcome, call.IncludeUsage, usage => Chunk(usage), ApiJsonContext.Default.TextCompletion, cancellationToken);
    }

    public ValueTask FailedAsync(ServerSentEvents sse, ApiErrorException error, CancellationToken cancellationToken) =>
        sse.WriteErrorAndDoneAsync(error, cancellationToken);

    private TextCompletion Chunk(int index, string text, string? finishReason = null) =>
        Chunk(choices: [new TextCompletionChoice { Index = index, Text = text, FinishReason = finishReason }]);

    private TextCompletion Chunk(Usage? usage = null, List<TextCompletionChoice>? choices = null) => new()
    {
        Id = completion.Id,
        Created = completion.Created,
        Model = completion.Model,
        Choices = choices ?? [],
        Usage = usage,
    };

    private static ValueTask WriteAsync(ServerSentEvents sse, TextCompletion chunk, CancellationToken cancellationToken) =>
        sse.WriteAsync(chunk, ApiJsonContext.Default.TextCompletion, cancellationToken);
}
