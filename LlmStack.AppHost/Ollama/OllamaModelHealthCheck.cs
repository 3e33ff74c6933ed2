using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace LlmStack.AppHost.Ollama;

/// <summary>
/// Healthy once Ollama knows the model (<c>/api/show</c> answers), which is what lets <c>WaitFor(model)</c>
/// wait for the download.
/// </summary>
internal sealed class OllamaModelHealthCheck(OllamaModelResource model, IServiceProvider services) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            using var ollama = await OllamaApi.ConnectAsync(model.Parent, services, cancellationToken);
            return await ollama.HasModelAsync(model.ModelName, cancellationToken)
                ? HealthCheckResult.Healthy()
                : HealthCheckResult.Unhealthy($"{model.ModelName} is not on {model.Parent.Name} (yet).");
        }
        catch (HttpRequestException ex)
        {
            return HealthCheckResult.Unhealthy($"{model.Parent.Name} does not answer: {ex.Message}", ex);
        }
    }
}
