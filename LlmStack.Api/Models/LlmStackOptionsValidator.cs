using LlmStack.Api.Backends;
using Microsoft.Extensions.Options;

namespace LlmStack.Api.Models;

/// <summary>Checks every model entry: an id, a unique id, a known backend, and the backend's own rules.</summary>
internal sealed class LlmStackOptionsValidator(IEnumerable<IModelBackend> backends) : IValidateOptions<LlmStackOptions>
{
    public ValidateOptionsResult Validate(string? name, LlmStackOptions options)
    {
        var byName = backends.ToDictionary(b => b.Name, StringComparer.OrdinalIgnoreCase);
        var failures = new List<string>();
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
