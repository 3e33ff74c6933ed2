using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace LlmStack.Api.Pipeline;

/// <summary>
/// <c>/readyz</c>: every served model's backend is ready (Ollama reachable and the model pulled, the OpenAI
/// upstream reachable, the embedded weights loaded). The report's data names each model's state, and each replica's for
/// a model with several; such a model is ready (degraded) while at least one of its replicas is.
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

        var data = new Dictionary<string, object>(StringComparer.Ordinal);
        foreach (var (model, result) in results)
        {
            data[model.Id] = $"{model.Backend}: {result.Status}{(result.Description is { } d ? " - " + d : "")}";
            // A model with replicas reports each of them ("replica 0 (10.0.0.5:8000)").
            foreach (var (key, value) in result.Data)
            {
                data[$"{model.Id} {key}"] = value;
            }
        }
        // Degraded is "not yet" for one backend (a model still downloading), "serving with fewer replicas" for several.
        var partlyServed = results.Where(r => r.result.Status == HealthStatus.Degraded && r.model.Replicas.Count > 0).Select(r => r.model.Id).ToList();
        var notReady = results.Where(r => r.result.Status != HealthStatus.Healthy).Select(r => r.model.Id).Except(partlyServed).ToList();
        var degraded = partlyServed;
        return notReady.Count > 0 ? HealthCheckResult.Unhealthy($"Not ready: {string.Join(", ", notReady)}", data: data)
            : degraded.Count > 0 ? HealthCheckResult.Degraded($"{results.Length} model(s) ready; some replicas of {string.Join(", ", degraded)} are not", data: data)
            : HealthCheckResult.Healthy($"{results.Length} model(s) ready", data);
    }
}
