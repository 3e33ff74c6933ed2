using Microsoft.AspNetCore.Http.Features;

namespace LlmStack.Api.Streaming;

/// <summary>How every streamed answer of the API (chat chunks, Responses events) starts: once, for both writers.</summary>
internal static class ServerSentEvents
{
    /// <summary>Makes <paramref name="context"/>'s response an unbuffered <c>text/event-stream</c>.</summary>
    public static HttpResponse Start(HttpContext context)
    {
        var response = context.Response;
        response.ContentType = "text/event-stream; charset=utf-8";
        response.Headers.CacheControl = "no-cache";
        // nginx and similar proxies buffer responses unless told not to; a buffered stream is no stream.
        response.Headers["X-Accel-Buffering"] = "no";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        return response;
    }
}
