namespace LlmStack.Api.Backends.Upstream;

/// <summary>
/// Turns a backend's error response into an <see cref="UpstreamHttpException"/> before any client library
/// sees it. OllamaSharp only keeps the status of an error (never Ollama's message) and the OpenAI SDK keeps
/// it in its own shape; reading it here gives both backends the same errors, with the server's message and
/// <c>Retry-After</c>. A streamed body that reports an error after its 200 is read through
/// <see cref="StreamErrorScanner"/>, which turns that error into an exception as well.
/// </summary>
internal sealed class UpstreamErrorHandler : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken);
        if (response.IsSuccessStatusCode)
        {
            if (StreamErrorScanner.Scans(response.Content.Headers.ContentType?.MediaType))
            {
                var scanned = new StreamContent(new StreamErrorScanner(await response.Content.ReadAsStreamAsync(cancellationToken)));
                foreach (var header in response.Content.Headers)
                {
                    scanned.Headers.TryAddWithoutValidation(header.Key, header.Value);
                }
                response.Content = scanned;
            }
            return response;
        }
        using (response)
        {
            throw await UpstreamHttpException.FromResponseAsync(response, cancellationToken);
        }
    }
}
