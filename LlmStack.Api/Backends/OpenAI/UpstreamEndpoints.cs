using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmStack.Api.Backends.Upstream;
using LlmStack.Api.Configuration;
using LlmStack.Api.Errors;

namespace LlmStack.Api.Backends.OpenAI;

/// <summary>
/// The endpoints of an OpenAI-compatible server beyond the OpenAI SDK's (vLLM's and llama-server's <c>/tokenize</c>,
/// <c>/detokenize</c>, <c>/v1/rerank</c>), called with plain JSON over the model's own HTTP client, the model's key and
/// the same error translation as every other upstream call. A server that has no such endpoint (404, 405) is a 400
/// that says so.
/// </summary>
internal sealed class UpstreamEndpoints(HttpClient http, ModelOptions options)
{
    /// <summary>The OpenAI root, <c>Endpoint</c> (<c>http://gpu-box:8000/v1/</c>).</summary>
    public Uri ApiRoot { get; } = UpstreamModelValidation.BaseAddress(options);

    /// <summary>
    /// The server's root, where vLLM and llama-server serve <c>/tokenize</c>: the endpoint without its trailing
    /// <c>/v1</c> (the endpoint itself when it has none).
    /// </summary>
    public Uri ServerRoot => ApiRoot.AbsolutePath.EndsWith("/v1/", StringComparison.Ordinal) ? new Uri(ApiRoot, "..") : ApiRoot;

    /// <summary>The name the upstream knows the model by.</summary>
    public string Model => options.BackendModelName;

    public async Task<JsonElement> PostAsync(Uri root, string path, JsonObject body, CancellationToken cancellationToken)
    {
        var url = new Uri(root, path);
        using var request = new HttpRequestMessage(HttpMethod.Post, url)
        {
            Content = new StringContent(body.ToJsonString(), System.Text.Encoding.UTF8, "application/json"),
        };
        if (!string.IsNullOrWhiteSpace(options.ApiKey))
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", options.ApiKey);
        }
        try
        {
            using var response = await http.SendAsync(request, cancellationToken);
            await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
            using var json = await JsonDocument.ParseAsync(stream, cancellationToken: cancellationToken);
            return json.RootElement.Clone();
        }
        catch (UpstreamHttpException missing) when (missing.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.MethodNotAllowed
            && !missing.UpstreamMessage.Contains(Model, StringComparison.Ordinal))
        {
            throw ApiErrorException.InvalidRequest(
                $"The model '{options.Id}' cannot serve this: its server at {root} has no {path} endpoint ({(int)missing.StatusCode}: {missing.UpstreamMessage}).",
                "model", "unsupported_model");
        }
        catch (Exception ex) when (UpstreamErrors.Translate(ex, options.Id, cancellationToken) is var translated && translated != ex)
        {
            throw translated;
        }
    }

    /// <summary>The answer's shape is not what the endpoint promises: a 502 naming what was wrong.</summary>
    public ApiErrorException Malformed(string path, string detail) =>
        ApiErrorException.BackendFailed(options.Id, $"its {path} answer is not in the expected shape: {detail}");
}
