using LlmStack.Api.Models;
using LlmStack.Tests.Fixtures;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace LlmStack.Tests.Backends;

/// <summary>
/// The API serving <paramref name="models"/>, with direct access to each model's pipeline, so that backends are
/// tested through the real wiring: validation, per-model HTTP clients under the service defaults, the catalog.
/// </summary>
public sealed class BackendHost(params ModelOptions[] models) : ApiApplication(models)
{
    /// <summary>The model's client as the endpoints get it: the backend wrapped in the shared pipeline.</summary>
    public IChatClient ChatClient(string id) =>
        Services.GetRequiredService<ModelCatalog>().TryGet(id, out _, out var client)
            ? client
            : throw new ArgumentException($"No model '{id}' in this host.", nameof(id));

    public ServedModel Model(string id) => Services.GetRequiredService<ModelCatalog>().Models.Single(m => m.Id == id);
}
