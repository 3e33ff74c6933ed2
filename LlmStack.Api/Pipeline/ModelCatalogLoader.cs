namespace LlmStack.Api.Pipeline;

/// <summary>
/// Loads the catalog while the host starts, before the server takes requests, so that an unloadable model stops
/// the API at start with its message instead of failing the first request.
/// </summary>
internal sealed class ModelCatalogLoader(ModelCatalog catalog) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => catalog.LoadAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
