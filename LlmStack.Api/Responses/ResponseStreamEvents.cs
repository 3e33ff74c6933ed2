using LlmStack.Api.Contracts;
using LlmStack.Api.Endpoints;
using LlmStack.Api.Errors;
using LlmStack.Api.Pipeline;
using Microsoft.Extensions.AI;

namespace LlmStack.Api.Responses;

/// <summary>
/// A streamed response's events, as OpenAI writes them: <c>event: {type}</c> + <c>data: {json}</c>, numbered by
/// <c>sequence_number</c> - <c>response.created</c>, <c>response.in_progress</c>, the output items with their deltas,
/// then <c>response.completed</c> (or <c>response.incomplete</c> when cut by length), or <c>response.failed</c> with the
/// error when the stream cannot go on (a backend failure, the server's drain or time limit). There is no
/// <c>[DONE]</c> marker in this API.
/// </summary>
/// <param name="completed">Stores the final response (when asked) before the client hears of it.</param>
internal sealed class ResponseStreamEvents(ResponseObject template, Func<ResponseObject, CancellationToken, Task> completed, RequestOutcome outcome)
    : IStreamEvents
{
    private readonly ResponseOutput _output = new(outcome);
    private int _sequenceNumber;

    public async ValueTask StartAsync(ServerSentEvents sse, CancellationToken cancellationToken)
    {
        await WriteAsync(sse, new ResponseStreamEvent { Type = "response.created", Response = template }, cancellationToken);
        await WriteAsync(sse, new ResponseStreamEvent { Type = "response.in_progress", Response = template }, cancellationToken);
    }

    public async ValueTask UpdateAsync(ServerSentEvents sse, ChatResponseUpdate update, CancellationToken cancellationToken)
    {
        foreach (var e in _output.Add(update))
        {
            await WriteAsync(sse, e, cancellationToken);
        }
    }

    public async ValueTask CompletedAsync(ServerSentEvents sse, CancellationToken cancellationToken)
    {
        foreach (var e in _output.Complete())
        {
            await WriteAsync(sse, e, cancellationToken);
        }
        var final = _output.ToResponse(template);
        // Stored before the client hears of it: a GET right after the last event finds it.
        await completed(final, cancellationToken);
        var type = final.Status == "incomplete" ? "response.incomplete" : "response.completed";
        await WriteAsync(sse, new ResponseStreamEvent { Type = type, Response = final }, cancellationToken);
    }

    public ValueTask FailedAsync(ServerSentEvents sse, ApiErrorException error, CancellationToken cancellationToken)
    {
        var failed = _output.ToResponse(template) with
        {
            Status = "failed",
            IncompleteDetails = null,
            Error = new ResponseError(error.Code ?? error.Type, error.Message),
        };
        return WriteAsync(sse, new ResponseStreamEvent { Type = "response.failed", Response = failed }, cancellationToken);
    }

    private ValueTask WriteAsync(ServerSentEvents sse, ResponseStreamEvent e, CancellationToken cancellationToken)
    {
        e.SequenceNumber = _sequenceNumber++;
        return sse.WriteAsync(e, ApiJsonContext.Default.ResponseStreamEvent, cancellationToken, eventType: e.Type);
    }
}
