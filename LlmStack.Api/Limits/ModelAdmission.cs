using System.Collections.Concurrent;
using LlmStack.Api.Backends;
using LlmStack.Api.Configuration;
using LlmStack.Api.Pipeline;
using LlmStack.Api.Telemetry;
using Microsoft.Extensions.Options;

namespace LlmStack.Api.Limits;

/// <summary>
/// One <see cref="AdmissionGate"/> per served model, sized from <c>LlmStack:Models:&lt;n&gt;:MaxConcurrentRequests</c>
/// (default: the backend's own parallelism, e.g. the embedded engine's slots; otherwise
/// <see cref="ModelOptions.DefaultMaxConcurrentRequests"/>), <c>MaxQueue</c> and <c>QueueTimeout</c>.
/// </summary>
internal sealed class ModelAdmission(IOptions<LlmStackOptions> options, LlmStackMetrics metrics)
{
    private readonly ConcurrentDictionary<string, AdmissionGate> _gates = new(StringComparer.Ordinal);

    public AdmissionGate For(ServedModel model) => _gates.GetOrAdd(model.Id, _ =>
    {
        // The demo model has no entry: it gets the defaults.
        var configured = options.Value.Models.FirstOrDefault(m => m.Id == model.Id) ?? new ModelOptions { Id = model.Id };
        return new AdmissionGate(
            model.Id,
            configured.MaxConcurrentRequests ?? model.Parallelism ?? ModelOptions.DefaultMaxConcurrentRequests,
            configured.MaxQueue,
            configured.QueueTimeout,
            metrics);
    });
}
