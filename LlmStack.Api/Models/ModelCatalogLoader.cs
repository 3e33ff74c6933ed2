namespace LlmStack.Api.Models;

/// <summary>
/// Builds the catalog while the host starts, so that an unloadable model stops the API at start with its
/// message instead of failing the first request.
/// </summary>
internal sealed class ModelCatalogLoader(ModelCatalog catalog, ILogger<ModelCatalogLoader> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var model in catalog.Models)
        {
            logger.LogInformation("Serving model {Model} on the {Backend} backend{Demo}",
                model.Id, model.Backend, model.IsDemo ? " (built-in demo model)" : "");
        }
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
