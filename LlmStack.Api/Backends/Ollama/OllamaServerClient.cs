using System.Net;
using OllamaSharp;
using OllamaSharp.Models;

namespace LlmStack.Api.Backends.Ollama;

/// <summary>
/// OllamaSharp's client with prompt cancellation. OllamaSharp reads the NDJSON stream with
/// <c>ReadLineAsync()</c> and no token, so a call canceled while Ollama processes the prompt would wait for
/// the next line, possibly minutes. Here the call's token owns the response: canceling it disposes the
/// response, which aborts the pending read and closes the connection, and Ollama stops generating.
/// </summary>
internal sealed class OllamaServerClient(HttpClient http, string model) : OllamaApiClient(http, model)
{
    protected override async Task<HttpResponseMessage> SendToOllamaAsync(
        HttpRequestMessage requestMessage, OllamaRequest? ollamaRequest, HttpCompletionOption completionOption,
        CancellationToken cancellationToken)
    {
        var response = await base.SendToOllamaAsync(requestMessage, ollamaRequest, completionOption, cancellationToken);
        if (completionOption == HttpCompletionOption.ResponseHeadersRead && cancellationToken.CanBeCanceled)
        {
            response.Content = new CancelableContent(response.Content, cancellationToken);
        }
        return response;
    }

    /// <summary>The response body, disposed (aborting any read in progress) when the call is canceled.</summary>
    private sealed class CancelableContent : HttpContent
    {
        private readonly HttpContent _inner;
        private readonly CancellationTokenRegistration _registration;

        public CancelableContent(HttpContent inner, CancellationToken cancellationToken)
        {
            _inner = inner;
            foreach (var header in inner.Headers)
            {
                Headers.TryAddWithoutValidation(header.Key, header.Value);
            }
            _registration = cancellationToken.Register(static content => ((HttpContent)content!).Dispose(), inner);
        }

        protected override Task<Stream> CreateContentReadStreamAsync() => _inner.ReadAsStreamAsync();

        protected override Task<Stream> CreateContentReadStreamAsync(CancellationToken cancellationToken) =>
            _inner.ReadAsStreamAsync(cancellationToken);

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => _inner.CopyToAsync(stream);

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken) =>
            _inner.CopyToAsync(stream, cancellationToken);

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _registration.Dispose();
                _inner.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
