using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http.Features;

namespace LlmStack.Api.Endpoints;

/// <summary>
/// One streamed answer's server-sent events, written and flushed one at a time: <c>data: {json}</c> (chat and text
/// completions), <c>event: {type}</c> + <c>data: {json}</c> (Responses), and the <c>data: [DONE]</c> marker.
/// </summary>
internal sealed class ServerSentEvents : IDisposable
{
    private readonly HttpResponse _response;
    private readonly Utf8JsonWriter _json;

    private ServerSentEvents(HttpResponse response)
    {
        _response = response;
        _json = new Utf8JsonWriter(response.BodyWriter, new JsonWriterOptions { SkipValidation = true });
    }

    /// <summary>Makes <paramref name="context"/>'s response an unbuffered <c>text/event-stream</c>.</summary>
    public static ServerSentEvents Start(HttpContext context)
    {
        var response = context.Response;
        response.ContentType = "text/event-stream; charset=utf-8";
        response.Headers.CacheControl = "no-cache";
        // nginx and similar proxies buffer responses unless told not to; a buffered stream is no stream.
        response.Headers["X-Accel-Buffering"] = "no";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        return new ServerSentEvents(response);
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

    private async ValueTask FlushAsync(CancellationToken cancellationToken) => await _response.BodyWriter.FlushAsync(cancellationToken);

    public void Dispose() => _json.Dispose();
}
