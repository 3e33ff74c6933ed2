using System.Buffers;
using System.Text;
using System.Text.Json;
using LlmStack.Api.Contracts;
using LlmStack.Api.Errors;
using LlmStack.Api.Pipeline;
using LlmStack.Api.Streaming;
using Microsoft.Extensions.AI;

namespace LlmStack.Api.Responses;

/// <summary>
/// Writes a streamed response as OpenAI does: server-sent events of <c>event: {type}</c> and
/// <c>data: {json}</c>, each flushed at once and numbered by <c>sequence_number</c> - <c>response.created</c>,
/// <c>response.in_progress</c>, the output items with their deltas, then <c>response.completed</c> (or
/// <c>response.incomplete</c> when cut by length, <c>response.failed</c> when the backend fails mid-way). There is
/// no <c>[DONE]</c> marker in this API.
/// </summary>
/// <remarks>
/// The handler reads the first update before this result runs, so that a backend that fails before producing
/// anything still gets a real status code; a client that disconnects cancels the generation.
/// </remarks>
internal sealed class ResponseEventStream : IResult, IAsyncDisposable
{
    private readonly IAsyncEnumerator<ChatResponseUpdate> _updates;
    private readonly bool _hasFirst;
    private readonly ResponseObject _template;
    private readonly Func<ResponseObject, CancellationToken, Task> _completed;
    private readonly RequestOutcome _outcome;
    private int _sequenceNumber;
    private bool _disposed;

    internal ResponseEventStream(
        IAsyncEnumerator<ChatResponseUpdate> updates, bool hasFirst, ResponseObject template, Func<ResponseObject, CancellationToken, Task> completed, RequestOutcome outcome)
    {
        (_updates, _hasFirst, _template, _completed, _outcome) = (updates, hasFirst, template, completed, outcome);
    }

    public async Task ExecuteAsync(HttpContext context)
    {
        await using var _ = this;
        var response = ServerSentEvents.Start(context);

        var cancellationToken = context.RequestAborted;
        using var json = new Utf8JsonWriter(response.BodyWriter, new JsonWriterOptions { SkipValidation = true });
        var output = new ResponseOutput(_outcome);
        try
        {
            await WriteAsync(json, response, new ResponseStreamEvent { Type = "response.created", Response = _template }, cancellationToken);
            await WriteAsync(json, response, new ResponseStreamEvent { Type = "response.in_progress", Response = _template }, cancellationToken);
            for (var more = _hasFirst; more; more = await _updates.MoveNextAsync())
            {
                foreach (var e in output.Add(_updates.Current))
                {
                    await WriteAsync(json, response, e, cancellationToken);
                }
            }

            // The generation is over: release the backend (a slot, a connection) before the last events go out. Its
            // usage and finish reason are the outcome's, the same the metrics and the log line record.
            await DisposeAsync();
            foreach (var e in output.Complete())
            {
                await WriteAsync(json, response, e, cancellationToken);
            }
            var final = output.ToResponse(_template);
            // Stored before the client hears of it: a GET right after the last event finds it.
            await _completed(final, cancellationToken);
            var type = final.Status == "incomplete" ? "response.incomplete" : "response.completed";
            await WriteAsync(json, response, new ResponseStreamEvent { Type = type, Response = final }, cancellationToken);
        }
        catch (Exception) when (cancellationToken.IsCancellationRequested)
        {
            // The client went away: the backend call is already cancelled and there is no one left to tell.
        }
        catch (Exception ex)
        {
            var error = OpenAIErrors.ToApiError(ex);
            _outcome.Failed(error);
            if (error.StatusCode >= StatusCodes.Status500InternalServerError)
            {
                context.RequestServices.GetRequiredService<ILogger<ResponseEventStream>>()
                    .LogError(ex, "Response {RequestId} failed after its stream started", context.TraceIdentifier);
            }
            var failed = output.ToResponse(_template) with
            {
                Status = "failed",
                IncompleteDetails = null,
                Error = new ResponseError(error.Code ?? error.Type, error.Message),
            };
            await WriteAsync(json, response, new ResponseStreamEvent { Type = "response.failed", Response = failed }, CancellationToken.None);
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

    private async ValueTask WriteAsync(Utf8JsonWriter json, HttpResponse response, ResponseStreamEvent e, CancellationToken cancellationToken)
    {
        e.SequenceNumber = _sequenceNumber++;
        var body = response.BodyWriter;
        body.Write("event: "u8);
        body.Write(Encoding.UTF8.GetBytes(e.Type));
        body.Write("\ndata: "u8);
        json.Reset(body);
        JsonSerializer.Serialize(json, e, ApiJsonContext.Default.ResponseStreamEvent);
        json.Flush();
        body.Write("\n\n"u8);
        await body.FlushAsync(cancellationToken);
    }
}
