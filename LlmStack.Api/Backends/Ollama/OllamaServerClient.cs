using System.Net;
using System.Text.Json;
using LlmStack.Api.Backends.Upstream;
using OllamaSharp;
using OllamaSharp.Models;

namespace LlmStack.Api.Backends.Ollama;

/// <summary>
/// OllamaSharp's client, with two repairs to how it reads a streamed reply:
/// <list type="bullet">
/// <item>Prompt cancellation. OllamaSharp reads the lines without a token, so a call canceled (by its caller or
/// the first-token timeout) while Ollama processes the prompt, or between two slow tokens, would wait for the
/// next line - minutes on a CPU, forever from a stuck server. Here every read of the body carries the call's
/// token: canceling aborts the read and the connection, and Ollama stops generating.</item>
/// <item>Errors in the stream. When generation fails after the stream started, Ollama sends
/// <c>{"error":"..."}</c> in place of the next chunk; OllamaSharp takes it for an empty chunk and the reply
/// ends quietly, truncated. Here such a line fails the call with Ollama's message.</item>
/// <item>Log probabilities of a chat (<see cref="LogprobsChatRequest"/>): the fields OllamaSharp's chat request lacks
/// are added to the body it wrote, and each line of the answer is shown to the request as it is read.</item>
/// </list>
/// </summary>
internal sealed class OllamaServerClient(HttpClient http, string model) : OllamaApiClient(http, model)
{
    protected override async Task<HttpResponseMessage> SendToOllamaAsync(
        HttpRequestMessage requestMessage, OllamaRequest? ollamaRequest, HttpCompletionOption completionOption,
        CancellationToken cancellationToken)
    {
        var logprobs = ollamaRequest as LogprobsChatRequest;
        if (logprobs is not null && requestMessage.Content is { } content
            && System.Text.Json.Nodes.JsonNode.Parse(await content.ReadAsStringAsync(cancellationToken)) is System.Text.Json.Nodes.JsonObject body)
        {
            logprobs.AddTo(body);
            requestMessage.Content = new StringContent(body.ToJsonString(), System.Text.Encoding.UTF8, "application/json");
        }
        var response = await base.SendToOllamaAsync(requestMessage, ollamaRequest, completionOption, cancellationToken);
        if ((completionOption == HttpCompletionOption.ResponseHeadersRead && cancellationToken.CanBeCanceled) || logprobs is not null)
        {
            response.Content = new CancelableContent(response.Content, cancellationToken, logprobs);
        }
        return response;
    }

    /// <summary>The response body, read through an <see cref="ErrorLineStream"/> bound to the call's token.</summary>
    private sealed class CancelableContent : HttpContent
    {
        private readonly HttpContent _inner;
        private readonly CancellationToken _callToken;
        private readonly LogprobsChatRequest? _lines;

        public CancelableContent(HttpContent inner, CancellationToken callToken, LogprobsChatRequest? lines)
        {
            _inner = inner;
            _callToken = callToken;
            _lines = lines;
            foreach (var header in inner.Headers)
            {
                Headers.TryAddWithoutValidation(header.Key, header.Value);
            }
        }

        protected override async Task<Stream> CreateContentReadStreamAsync() =>
            new ErrorLineStream(await _inner.ReadAsStreamAsync(_callToken), _callToken, _lines);

        protected override async Task<Stream> CreateContentReadStreamAsync(CancellationToken cancellationToken) =>
            new ErrorLineStream(await _inner.ReadAsStreamAsync(cancellationToken), _callToken, _lines);

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
                _inner.Dispose();
            }
            base.Dispose(disposing);
        }
    }

    /// <summary>
    /// Passes the NDJSON body through, reading with the call's token when the reader gives none. A line starting with
    /// <c>{"error":</c> fails the read that completes it with an <see cref="UpstreamHttpException"/> carrying Ollama's
    /// message. With <paramref name="lines"/>, each line (the last one at the end of the body) is shown to it once read,
    /// before the reader can have taken it.
    /// </summary>
    internal sealed class ErrorLineStream(Stream inner, CancellationToken callToken, LogprobsChatRequest? lines = null)
        : LineScanningStream(inner, lines is null ? MaxErrorLineBytes : int.MaxValue)
    {
        private const int MaxErrorLineBytes = 8 * 1024;

        private static ReadOnlySpan<byte> ErrorStart => "{\"error\":"u8;

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            base.ReadAsync(buffer, cancellationToken.CanBeCanceled ? cancellationToken : callToken);

        // Every line, when they are shown to lines; otherwise error lines only.
        protected override bool? WantsLine(ReadOnlySpan<byte> start)
        {
            if (lines is not null || start.StartsWith(ErrorStart))
            {
                return true;
            }
            return ErrorStart.StartsWith(start) ? null : false;
        }

        protected override Exception? OnLine(ReadOnlySpan<byte> line)
        {
            lines?.Observe(line);
            // Returned, not thrown: the lines before it in the same read still reach OllamaSharp, however the bytes arrived.
            return line.StartsWith(ErrorStart) ? ErrorFrom(line[..Math.Min(line.Length, MaxErrorLineBytes)]) : null;
        }

        private static UpstreamHttpException ErrorFrom(ReadOnlySpan<byte> line)
        {
            string? message = null;
            try
            {
                using var json = JsonDocument.Parse(line.ToArray());
                message = json.RootElement.GetProperty("error").GetString();
            }
            catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException)
            {
                // A cut-off line still says that generation failed.
            }
            return new UpstreamHttpException(HttpStatusCode.InternalServerError,
                message ?? "Ollama reported an error in the middle of the stream", retryAfter: null);
        }
    }
}
