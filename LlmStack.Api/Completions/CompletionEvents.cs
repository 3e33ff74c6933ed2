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
internal sealed class CompletionEvents(CompletionIdentity completion, TextCompletionCall call, RequestOutcome outcome) : IStreamEvents
{
    public ValueTask StartAsync(ServerSentEvents sse, CancellationToken cancellationToken) =>
        call.Echo ? WriteAsync(sse, Chunk(call.Prompt), cancellationToken) : ValueTask.CompletedTask;

    public ValueTask UpdateAsync(ServerSentEvents sse, ChatResponseUpdate update, CancellationToken cancellationToken) =>
        update.Text is { Length: > 0 } text ? WriteAsync(sse, Chunk(text), cancellationToken) : ValueTask.CompletedTask;

    public async ValueTask CompletedAsync(ServerSentEvents sse, CancellationToken cancellationToken)
    {
        await WriteAsync(sse, Chunk("", CompletionStreamEnd.FinishReasonOf(outcome)), cancellationToken);
        await sse.WriteUsageAndDoneAsync(outcome, call.IncludeUsage, usage => Chunk(usage), ApiJsonContext.Default.TextCompletion, cancellationToken);
    }

    public ValueTask FailedAsync(ServerSentEvents sse, ApiErrorException error, CancellationToken cancellationToken) =>
        sse.WriteErrorAndDoneAsync(error, cancellationToken);

    private TextCompletion Chunk(string text, string? finishReason = null) => Chunk(choices: [new TextCompletionChoice { Text = text, FinishReason = finishReason }]);

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
