using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using LlmStack.Api.Contracts;
using LlmStack.Api.Errors;
using LlmStack.Api.Limits;
using LlmStack.Api.Pipeline;
using LlmStack.Api.Streaming;
using Microsoft.Extensions.AI;

namespace LlmStack.Api.ChatCompletions;

/// <summary>
/// Writes a streamed chat completion as server-sent events, the way OpenAI does: one <c>data: {chunk}\n\n</c>
/// per update, flushed at once; the first delta carries the role, the last choice chunk the finish reason,
/// then the usage chunk (when asked) and <c>data: [DONE]</c>. A failure after the first byte can only be told
/// in-band: a <c>data: {"error":...}</c> event, then <c>data: [DONE]</c>.
/// </summary>
/// <remarks>
/// The handler reads the first update before this result runs, so that a backend that fails before producing
/// anything (unreachable, timed out, prompt too long) still gets a real status code.
/// </remarks>
internal sealed class ChatCompletionStream : IResult, IAsyncDisposable
{
    private readonly IAsyncEnumerator<ChatResponseUpdate> _updates;
    private readonly bool _hasFirst;
    private readonly string _id;
    private readonly long _created;
    private readonly string _model;
    private readonly bool _includeUsage;
    private readonly RequestOutcome _outcome;
    private bool _disposed;

    internal ChatCompletionStream(IAsyncEnumerator<ChatResponseUpdate> updates, bool hasFirst, string id, long created, string model, bool includeUsage, RequestOutcome outcome)
    {
        (_updates, _hasFirst, _id, _created, _model, _includeUsage, _outcome) = (updates, hasFirst, id, created, model, includeUsage, outcome);
    }

    private static ReadOnlySpan<byte> DataPrefix => "data: "u8;

    private static ReadOnlySpan<byte> EventEnd => "\n\n"u8;

    private static ReadOnlySpan<byte> Done => "data: [DONE]\n\n"u8;

    public async Task ExecuteAsync(HttpContext context)
    {
        await using var _ = this;
        var response = ServerSentEvents.Start(context);

        var cancellationToken = context.RequestAborted;
        using var json = new Utf8JsonWriter(response.BodyWriter, new JsonWriterOptions { SkipValidation = true });
        var first = true;
        var toolCallIndex = 0;
        try
        {
            for (var more = _hasFirst; more; more = await _updates.MoveNextAsync())
            {
                var update = _updates.Current;
                var text = update.Text;
                var reasoning = ChatResponseMapping.ReasoningOf(update.Contents);
                var calls = update.Contents.OfType<FunctionCallContent>()
                    .Select(call => ToDelta(call, toolCallIndex++))
                    .ToList();
                if (!first && text.Length == 0 && reasoning.Length == 0 && calls.Count == 0)
                {
                    continue;
                }
                await WriteAsync(json, response, Chunk(new ChunkDelta
                {
                    Role = first ? "assistant" : null,
                    Content = text.Length > 0 || first ? text : null,
                    ReasoningContent = reasoning.Length > 0 ? reasoning : null,
                    ToolCalls = calls.Count > 0 ? calls : null,
                }), ApiJsonContext.Default.ChatCompletionChunk, cancellationToken);
                first = false;
            }

            // The reply is over: release the backend (a slot, a connection) before the last bytes go out. Its finish
            // reason and usage are the outcome's, the same the metrics and the log line record.
            await DisposeAsync();
            var finish = _outcome.FinishReason ?? throw new InvalidOperationException("The reply ended without a finish reason in its outcome.");
            var usage = _outcome.Usage;
            if (first)
            {
                await WriteAsync(json, response, Chunk(new ChunkDelta { Role = "assistant", Content = "" }), ApiJsonContext.Default.ChatCompletionChunk, cancellationToken);
            }
            await WriteAsync(json, response, Chunk(new ChunkDelta(), finish), ApiJsonContext.Default.ChatCompletionChunk, cancellationToken);
            if (_includeUsage && usage is not null)
            {
                await WriteAsync(json, response, new ChatCompletionChunk
                {
                    Id = _id,
                    Created = _created,
                    Model = _model,
                    Choices = [],
                    Usage = usage.ToUsage(),
                }, ApiJsonContext.Default.ChatCompletionChunk, cancellationToken);
            }
            response.BodyWriter.Write(Done);
            await response.BodyWriter.FlushAsync(cancellationToken);
        }
        catch (Exception) when (cancellationToken.IsCancellationRequested && RequestCutoff.Of(context)?.Error is null)
        {
            // The client went away: the backend call is already cancelled and there is no one left to tell.
        }
        catch (Exception ex)
        {
            // The server's own cutoff (drain at shutdown, total request time) ends the stream as a failure would.
            var cutoff = RequestCutoff.Of(context)?.Error;
            var error = cutoff ?? OpenAIErrors.ToApiError(ex);
            _outcome.Failed(error);
            if (cutoff is null && error.StatusCode >= StatusCodes.Status500InternalServerError)
            {
                context.RequestServices.GetRequiredService<ILogger<ChatCompletionStream>>()
                    .LogError(ex, "Chat completion {RequestId} failed after its stream started", context.TraceIdentifier);
            }
            await DisposeAsync();
            // The client is still reading: the error event, then [DONE], so that every SSE client sees a finished stream.
            await WriteAsync(json, response, error.ToErrorResponse(), ApiJsonContext.Default.ErrorResponse, CancellationToken.None);
            response.BodyWriter.Write(Done);
            await response.BodyWriter.FlushAsync(CancellationToken.None);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_disposed)
        {
            _disposed = true;
            await _updates.DisposeAsync();
        }
    }

    private ChatCompletionChunk Chunk(ChunkDelta delta, string? finishReason = null) => new()
    {
        Id = _id,
        Created = _created,
        Model = _model,
        Choices = [new ChunkChoice { Delta = delta, FinishReason = finishReason }],
    };

    private static ToolCallDelta ToDelta(FunctionCallContent call, int index)
    {
        var toolCall = ChatResponseMapping.ToToolCall(call);
        return new ToolCallDelta { Index = index, Id = toolCall.Id, Type = toolCall.Type, Function = toolCall.Function };
    }

    private static async ValueTask WriteAsync<T>(Utf8JsonWriter json, HttpResponse response, T value, JsonTypeInfo<T> typeInfo, CancellationToken cancellationToken)
    {
        var body = response.BodyWriter;
        body.Write(DataPrefix);
        json.Reset(body);
        JsonSerializer.Serialize(json, value, typeInfo);
        json.Flush();
        body.Write(EventEnd);
        await body.FlushAsync(cancellationToken);
    }
}
