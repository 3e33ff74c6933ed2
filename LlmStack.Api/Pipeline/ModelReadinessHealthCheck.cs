using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace LlmStack.Api.Pipeline;

/// <summary>
/// <c>/readyz</c>: every served model's backend is ready (Ollama reachable and the model pulled, the OpenAI
/// upstream reachable, the embedded weights loaded). The report's data names each model's state.
/// </summary>
internal sealed class ModelReadinessHealthCheck(ModelCatalog catalog) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var results = await Task.WhenAll(catalog.Models.Select(async model =>
        {
            try
            {
                return (model, result: await model.CheckReadyAsync(cancellationToken));
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                return (model, result: HealthCheckResult.Unhealthy(ex.Message, ex));
            }
        }));

        var data = results.ToDictionary(
            r => r.model.Id,
            r => (object)$"{r.model.Backend}: {r.result.Status}{(r.result.Description is { } d ? " - " + d : "")}");
        var notReady = results.Where(r => r.result.Status != HealthStatus.Healthy).Select(r => r.model.Id).ToList();
        return notReady.Count == 0
            ? HealthCheckResult.Healthy($"{results.Length} model(s) ready", data)
            : HealthCheckResult.Unhealthy($"Not ready: {string.Join(", ", notReady)}", data: data);
    }
}
