using LlmStack.Api.Backends;
using LlmStack.Api.Configuration;
using Microsoft.Extensions.Options;

namespace LlmStack.Api.Pipeline;

/// <summary>Checks every model entry: an id, a unique id, a known backend, and the backend's own rules.</summary>
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
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < options.Models.Count; i++)
        {
            var model = options.Models[i];
            var key = $"{LlmStackOptions.SectionName}:Models:{i}";
            if (string.IsNullOrWhiteSpace(model.Id))
            {
                failures.Add($"{key}:Id is required: the name clients send as \"model\".");
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

            if (!byName.TryGetValue(model.Backend, out var backend))
            {
                failures.Add($"{key}:Backend '{model.Backend}' is not a backend; use one of: {string.Join(", ", byName.Keys.Order())}.");
                continue;
            }
            failures.AddRange(backend.Validate(model, key));
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
