using LlmStack.Api.Backends;
using LlmStack.Api.Configuration;
using LlmStack.Api.Errors;
using LlmStack.Api.Pipeline;
using LlmStack.Tests.Fixtures;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace LlmStack.Tests.Backends;

/// <summary>
/// The API serving <paramref name="models"/>, with direct access to each model's pipeline, so that backends are
/// tested through the real wiring: validation, per-model HTTP clients under the service defaults, the catalog.
/// </summary>
internal sealed class BackendHost(params ModelOptions[] models) : ApiApplication(models)
{
    /// <summary>
    /// A model that <paramref name="backend"/> serves from the server at <paramref name="endpoint"/>, which calls it
    /// <paramref name="upstream"/>.
    /// </summary>
    public static ModelOptions UpstreamModel(
        string backend, string id, string endpoint, string upstream, Action<ModelOptions>? configure = null)
    {
        var model = new ModelOptions { Id = id, Backend = backend, Endpoint = endpoint, UpstreamModel = upstream };
        configure?.Invoke(model);
        return model;
    }

    /// <summary>The model's client as the endpoints get it: the backend wrapped in the shared pipeline.</summary>
    public IChatClient ChatClient(string id) =>
        Services.GetRequiredService<ModelCatalog>().TryGet(id, out var pipeline)
            ? pipeline.ChatClient
            : throw new ArgumentException($"No model '{id}' in this host.", nameof(id));

    public ServedModel Model(string id) => Services.GetRequiredService<ModelCatalog>().Models.Single(m => m.Id == id);

    /// <summary>
    /// Asks model <paramref name="id"/> for a reply, streamed or not, within <paramref name="bound"/>, and returns
    /// the API error the request ends in; any other ending fails the test.
    /// </summary>
    public Task<ApiErrorException> ChatErrorAsync(string id, bool stream, TimeSpan bound)
    {
        var client = ChatClient(id);
        var token = TestContext.Current.CancellationToken;
        return Assert.ThrowsAsync<ApiErrorException>(() => stream
            ? client.GetStreamingResponseAsync("Fail, please.", cancellationToken: token).ToListAsync(token).AsTask().WaitAsync(bound, token)
            : client.GetResponseAsync("Fail, please.", cancellationToken: token).WaitAsync(bound, token));
    }
}
