using LlmStack.Api.Backends;
using LlmStack.Api.Configuration;
using LlmStack.Api.Telemetry;
using Microsoft.Extensions.Options;

namespace LlmStack.Api.Pipeline;

/// <summary>
/// Checks every model entry: an id, a unique id, a known backend and the backend's own rules - for the model, or for each of
/// its replicas - its routing, and a fallback that names another model.
/// </summary>
internal sealed class LlmStackOptionsValidator(IEnumerable<IModelBackend> backends) : IValidateOptions<LlmStackOptions>
{
    public ValidateOptionsResult Validate(string? name, LlmStackOptions options)
    {
        var byName = backends.ToDictionary(b => b.Name, StringComparer.OrdinalIgnoreCase);
        var failures = new List<string>();
        const string section = LlmStackOptions.SectionName;
        if (options.MaxRequestBodySize < 1)
        {
            failures.Add($"{section}:MaxRequestBodySize must be a positive number of bytes, not {options.MaxRequestBodySize}.");
        }
        if (options.MaxOutputTokens < 1)
        {
            failures.Add($"{section}:MaxOutputTokens must be at least 1, not {options.MaxOutputTokens}.");
        }
        if (options.MaxRequestDuration <= TimeSpan.Zero)
        {
            failures.Add($"{section}:MaxRequestDuration must be positive (e.g. 00:30:00), not '{options.MaxRequestDuration}'.");
        }
        if (options.DrainTimeout < TimeSpan.Zero)
        {
            failures.Add($"{section}:DrainTimeout must be zero or positive (e.g. 00:00:08), not '{options.DrainTimeout}'.");
        }
        if (options.StreamWriteTimeout <= TimeSpan.Zero)
        {
            failures.Add($"{section}:StreamWriteTimeout must be positive (e.g. 00:00:30), not '{options.StreamWriteTimeout}'.");
        }
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < options.Models.Count; i++)
        {
            var model = options.Models[i];
            var key = $"{LlmStackOptions.SectionName}:Models:{i}";
            if (string.IsNullOrWhiteSpace(model.Id))
            {
                failures.Add($"{key}:Id is required: the name clients send as \"model\".");
            }
            else if (model.Id == LlmStackMetrics.NoModel)
            {
                failures.Add($"{key}:Id '{model.Id}' is reserved: metrics label requests refused before a model is chosen with it. Choose another id.");
            }
            else if (!seen.Add(model.Id))
            {
                failures.Add($"{key}:Id '{model.Id}' is configured twice.");
            }

            if (model.FirstTokenTimeout <= TimeSpan.Zero)
            {
                failures.Add($"{key}:FirstTokenTimeout must be positive (e.g. 00:05:00), not '{model.FirstTokenTimeout}'.");
            }

            if (model.MaxConcurrentRequests is < 1 or > 100_000)
            {
                failures.Add($"{key}:MaxConcurrentRequests must be 1 to 100000 (leave it unset for the backend's default), not {model.MaxConcurrentRequests}.");
            }
            if (model.MaxQueue is < 0 or > 1_000_000)
            {
                failures.Add($"{key}:MaxQueue must be 0 to 1000000, not {model.MaxQueue}.");
            }
            if (model.QueueTimeout <= TimeSpan.Zero)
            {
                failures.Add($"{key}:QueueTimeout must be positive (e.g. 00:01:00), not '{model.QueueTimeout}'.");
            }

            if (model.Replicas.Count == 0)
            {
                failures.AddRange(ValidateBackend(model, key, byName));
            }
            else
            {
                failures.AddRange(ValidateReplicas(model, key, byName));
            }
        }
        failures.AddRange(ValidateFallbacks(options.Models));
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static IEnumerable<string> ValidateBackend(ModelOptions model, string key, Dictionary<string, IModelBackend> byName) =>
        byName.TryGetValue(model.Backend, out var backend)
            ? backend.Validate(model, key)
            : [$"{key}:Backend '{model.Backend}' is not a backend; use one of: {string.Join(", ", byName.Keys.Order())}."];

    private static IEnumerable<string> ValidateReplicas(ModelOptions model, string key, Dictionary<string, IModelBackend> byName)
    {
        if (!string.IsNullOrWhiteSpace(model.Endpoint) || !string.IsNullOrWhiteSpace(model.Path) || !string.IsNullOrWhiteSpace(model.Source))
        {
            yield return $"{key}:Replicas is set, and so is the model's own Endpoint, Path or Source: give each replica its own ({key}:Replicas:<m>:Endpoint or :Path).";
        }
        if (model.Replicas.Count > ReplicaOptions.MaxReplicas)
        {
            yield return $"{key}:Replicas has {model.Replicas.Count} entries; a model may have at most {ReplicaOptions.MaxReplicas}.";
        }
        var routing = model.Routing;
        if (routing.FailuresToEject is < 1 or > 1000)
        {
            yield return $"{key}:Routing:FailuresToEject must be 1 to 1000, not {routing.FailuresToEject}.";
        }
        if (routing.EjectionTime <= TimeSpan.Zero)
        {
            yield return $"{key}:Routing:EjectionTime must be positive (e.g. 00:00:05), not '{routing.EjectionTime}'.";
        }
        if (routing.MaxEjectionTime < routing.EjectionTime)
        {
            yield return $"{key}:Routing:MaxEjectionTime '{routing.MaxEjectionTime}' must be at least EjectionTime '{routing.EjectionTime}'.";
        }
        for (var m = 0; m < model.Replicas.Count; m++)
        {
            var replica = model.Replicas[m];
            var replicaKey = $"{key}:Replicas:{m}";
            if (replica.Weight is < 1 or > 1000)
            {
                yield return $"{replicaKey}:Weight must be 1 to 1000, not {replica.Weight}.";
            }
            if (replica.Priority is < 0 or > 1000)
            {
                yield return $"{replicaKey}:Priority must be 0 to 1000 (0 is tried first), not {replica.Priority}.";
            }
            if (replica.MaxConcurrentRequests is < 1 or > 100_000)
            {
                yield return $"{replicaKey}:MaxConcurrentRequests must be 1 to 100000 (leave it unset for the backend's default), not {replica.MaxConcurrentRequests}.";
            }
            var options = model.ForReplica(m);
            if (!byName.TryGetValue(options.Backend, out var backend))
            {
                yield return $"{replicaKey}:Backend '{options.Backend}' is not a backend (set it on the replica or the model); use one of: {string.Join(", ", byName.Keys.Order())}.";
                continue;
            }
            // The replica's own keys (Endpoint, Path) are reported under its prefix; the shared ones are the model's.
            foreach (var failure in backend.Validate(options, replicaKey))
            {
                yield return failure;
            }
        }
    }

    private static IEnumerable<string> ValidateFallbacks(List<ModelOptions> models)
    {
        var byId = models.Where(m => !string.IsNullOrWhiteSpace(m.Id)).GroupBy(m => m.Id, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        for (var i = 0; i < models.Count; i++)
        {
            var fallback = models[i].Fallback;
            if (string.IsNullOrWhiteSpace(fallback))
            {
                continue;
            }
            var key = $"{LlmStackOptions.SectionName}:Models:{i}:Fallback";
            if (fallback == models[i].Id)
            {
                yield return $"{key} '{fallback}' is the model itself; name another served model.";
            }
            else if (!byId.TryGetValue(fallback, out var target))
            {
                yield return $"{key} '{fallback}' is not a configured model id; use one of: {string.Join(", ", byId.Keys.Order())}.";
            }
            else if (!string.IsNullOrWhiteSpace(target.Fallback))
            {
                yield return $"{key} '{fallback}' has a fallback of its own ('{target.Fallback}'); a request falls back once, so name a model without one.";
            }
        }
    }
}
