using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http.Features;

namespace LlmStack.Api.Endpoints;

/// <summary>
/// One streamed answer's server-sent events, written and flushed one at a time: <c>data: {json}</c> (chat and text
/// completions), <c>event: {type}</c> + <c>data: {json}</c> (Responses), and the <c>data: [DONE]</c> marker. A flush
/// that waits longer than the write timeout for its client to read is given up: <see cref="StreamWriteTimeoutException"/>.
/// </summary>
internal sealed class ServerSentEvents : IDisposable
{
    private readonly HttpResponse _response;
    private readonly Utf8JsonWriter _json;
    private readonly TimeSpan _writeTimeout;

    private ServerSentEvents(HttpResponse response, TimeSpan writeTimeout)
    {
        _response = response;
        _writeTimeout = writeTimeout;
        _json = new Utf8JsonWriter(response.BodyWriter, new JsonWriterOptions { SkipValidation = true });
    }

    /// <summary>Makes <paramref name="context"/>'s response an unbuffered <c>text/event-stream</c>.</summary>
    /// <param name="writeTimeout">The longest one flush may wait for the client to read (<c>LlmStack:StreamWriteTimeout</c>).</param>
    public static ServerSentEvents Start(HttpContext context, TimeSpan writeTimeout)
    {
        var response = context.Response;
        response.ContentType = "text/event-stream; charset=utf-8";
        response.Headers.CacheControl = "no-cache";
        // nginx and similar proxies buffer responses unless told not to; a buffered stream is no stream.
        response.Headers["X-Accel-Buffering"] = "no";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        return new ServerSentEvents(response, writeTimeout);
    }

    /// <summary>One <c>data:</c> event (with an <c>event:</c> line when <paramref name="eventType"/> is given), flushed.</summary>
    public ValueTask WriteAsync<T>(T value, JsonTypeInfo<T> typeInfo, CancellationToken cancellationToken, string? eventType = null)
    {
        var body = _response.BodyWriter;
        if (eventType is not null)
        {
            body.Write("event: "u8);
            body.Write(Encoding.UTF8.GetBytes(eventType));
            body.Write("\n"u8);
        }
        body.Write("data: "u8);
        _json.Reset(body);
        JsonSerializer.Serialize(_json, value, typeInfo);
        _json.Flush();
        body.Write("\n\n"u8);
        return FlushAsync(cancellationToken);
    }

    /// <summary>The <c>data: [DONE]</c> marker that ends a chat or text completion stream.</summary>
    public ValueTask WriteDoneAsync(CancellationToken cancellationToken)
    {
        _response.BodyWriter.Write("data: [DONE]\n\n"u8);
        return FlushAsync(cancellationToken);
    }

    /// <summary>
    /// How a chat or text completion stream that cannot go on ends (vLLM's way; OpenAI has none): a
    /// <c>data: {"error":...}</c> event in OpenAI's envelope, then <c>data: [DONE]</c>.
    /// </summary>
    public async ValueTask WriteErrorAndDoneAsync(Errors.ApiErrorException error, CancellationToken cancellationToken)
    {
        await WriteAsync(error.ToErrorResponse(), Contracts.ApiJsonContext.Default.ErrorResponse, cancellationToken);
        await WriteDoneAsync(cancellationToken);
    }

    private ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        var flush = _response.BodyWriter.FlushAsync(cancellationToken);
        // Nearly every flush completes at once (the server's buffers take it); only one whose client has stopped reading waits.
        if (flush.IsCompletedSuccessfully)
        {
            _ = flush.Result; // Consumed, as the pipe's pooled awaitable must be.
            return ValueTask.CompletedTask;
        }
        return WaitForReaderAsync(flush.AsTask());
    }

    private async ValueTask WaitForReaderAsync(Task<FlushResult> flush)
    {
        try
        {
            await flush.WaitAsync(_writeTimeout);
        }
        catch (TimeoutException)
        {
            // The flush ends now (as canceled); what it held stays buffered, for the connection to take if it ever reads.
            _response.BodyWriter.CancelPendingFlush();
            try
            {
                await flush.WaitAsync(_writeTimeout);
            }
            catch (TimeoutException)
            {
                // Still pending: the next write fails, and the stream's end closes the connection.
            }
            throw new StreamWriteTimeoutException(_writeTimeout);
        }
    }

    public void Dispose() => _json.Dispose();
}

/// <summary>A write of a stream waited longer than <see cref="WriteTimeout"/> for its client to read.</summary>
internal sealed class StreamWriteTimeoutException(TimeSpan writeTimeout)
    : Exception($"The client did not read the stream for {writeTimeout.TotalSeconds:0.###} s.")
{
    public TimeSpan WriteTimeout => writeTimeout;
}
