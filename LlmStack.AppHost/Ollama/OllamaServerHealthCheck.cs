using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace LlmStack.AppHost.Ollama;

/// <summary>An Ollama server the AppHost did not start is healthy when its root answers "Ollama is running".</summary>
internal sealed class OllamaServerHealthCheck(ExternalOllamaResource server, IHttpClientFactory httpClientFactory) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            using var http = httpClientFactory.CreateClient(OllamaApi.HttpClientName);
            using var response = await http.GetAsync(server.Uri, cancellationToken);
            return response.IsSuccessStatusCode
                ? HealthCheckResult.Healthy()
                : HealthCheckResult.Unhealthy($"{server.Uri} answered {(int)response.StatusCode} {response.ReasonPhrase}.");
        }
        catch (HttpRequestException ex)
        {
            return HealthCheckResult.Unhealthy($"{server.Uri} does not answer: {ex.Message}", ex);
        }
    }
}
