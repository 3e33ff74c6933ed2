using LlmStack.Api.Backends;
using LlmStack.Api.Configuration;
using LlmStack.Api.Pipeline;
using LlmStack.Tests.Fixtures;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace LlmStack.Tests.Browser;

/// <summary>A backend whose models are still being downloaded, as Ollama's are while it pulls them.</summary>
internal sealed class NotReadyBackend : IModelBackend
{
    public const string BackendName = "not-ready";
    public const string Reason = "model qwen2.5:7b is not pulled yet (ollama pull qwen2.5:7b)";

    public string Name => BackendName;

    public IEnumerable<string> Validate(ModelOptions options, string keyPrefix) => [];

    public Task<ServedModel> CreateAsync(ModelOptions options, CancellationToken cancellationToken) => Task.FromResult(new ServedModel
    {
        Id = options.Id,
        Backend = Name,
        ChatClient = InMemoryChatClient.Replying(["Ready now."]),
        CheckReadyAsync = _ => Task.FromResult(HealthCheckResult.Unhealthy(Reason)),
    });
}
