using LlmStack.Api.Contracts;
using LlmStack.Api.Endpoints;
using LlmStack.Api.Errors;
using LlmStack.Api.Pipeline;
using Microsoft.Extensions.AI;

namespace LlmStack.Api.ChatCompletions;

/// <summary>
/// A streamed chat completion's events, the way OpenAI writes them: one <c>data: {chunk}</c> per update; the first
/// delta carries the role, the last choice chunk the finish reason, then the usage chunk (when asked) and
/// <c>data: [DONE]</c>. A failure after the first byte can only be told in-band: a <c>data: {"error":...}</c> event,
/// then <c>data: [DONE]</c>.
/// </summary>
internal sealed class ChatCompletionEvents(CompletionIdentity completion, bool includeUsage, RequestOutcome outcome) : IStreamEvents
{
    private bool _first = true;
    private int _toolCallIndex;

    public ValueTask StartAsync(ServerSentEvents sse, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public async ValueTask UpdateAsync(ServerSentEvents sse, ChatResponseUpdate update, CancellationToken cancellationToken)
    {
        var text = update.Text;
        var reasoning = ChatResponseMapping.ReasoningOf(update.Contents);
        var calls = update.Contents.OfType<FunctionCallContent>().Select(call => ToDelta(call, _toolCallIndex++)).ToList();
        if (!_first && text.Length == 0 && reasoning.Length == 0 && calls.Count == 0)
        {
            return;
        }
        await WriteAsync(sse, Chunk(new ChunkDelta
        {
            Role = _first ? "assistant" : null,
            Content = text.Length > 0 || _first ? text : null,
            ReasoningContent = reasoning.Length > 0 ? reasoning : null,
            ToolCalls = calls.Count > 0 ? calls : null,
        }), cancellationToken);
        _first = false;
    }

    public async ValueTask CompletedAsync(ServerSentEvents sse, CancellationToken cancellationToken)
    {
        var finish = CompletionStreamEnd.FinishReasonOf(outcome);
        if (_first)
        {
            await WriteAsync(sse, Chunk(new ChunkDelta { Role = "assistant", Content = "" }), cancellationToken);
        }
        await WriteAsync(sse, Chunk(new ChunkDelta(), finish), cancellationToken);
        await sse.WriteUsageAndDoneAsync(outcome, includeUsage, usage => new ChatCompletionChunk
        {
            Id = completion.Id,
            Created = completion.Created,
            Model = completion.Model,
            Choices = [],
            Usage = usage,
        }, ApiJsonContext.Default.ChatCompletionChunk, cancellationToken);
    }

    public ValueTask FailedAsync(ServerSentEvents sse, ApiErrorException error, CancellationToken cancellationToken) =>
        sse.WriteErrorAndDoneAsync(error, cancellationToken);

    private ChatCompletionChunk Chunk(ChunkDelta delta, string? finishReason = null) => new()
    {
        Id = completion.Id,
        Created = completion.Created,
        Model = completion.Model,
        Choices = [new ChunkChoice { Delta = delta, FinishReason = finishReason }],
    };

    private static ToolCallDelta ToDelta(FunctionCallContent call, int index)
    {
        var toolCall = ChatResponseMapping.ToToolCall(call);
        return new ToolCallDelta { Index = index, Id = toolCall.Id, Type = toolCall.Type, Function = toolCall.Function };
    }

    private static ValueTask WriteAsync(ServerSentEvents sse, ChatCompletionChunk chunk, CancellationToken cancellationToken) =>
        sse.WriteAsync(chunk, ApiJsonContext.Default.ChatCompletionChunk, cancellationToken);
}
