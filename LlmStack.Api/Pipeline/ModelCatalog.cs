using System.Collections.Frozen;
using System.Diagnostics.CodeAnalysis;
using LlmStack.Api.Backends;
using LlmStack.Api.Configuration;
using LlmStack.Api.Errors;
using Microsoft.Extensions.Options;

namespace LlmStack.Api.Pipeline;

/// <summary>
/// Maps a request's <c>model</c> to the model that serves it. Empty until <see cref="LoadAsync"/> brings up every
/// model of <c>LlmStack:Models</c> (or the built-in demo model when nothing is configured), once, at start
/// (<see cref="ModelCatalogLoader"/>); each model's clients are then wrapped once in the shared pipeline.
/// </summary>
internal sealed class ModelCatalog(
    IOptions<LlmStackOptions> options,
    IEnumerable<IModelBackend> backends,
    IDemoModelSource demoModels,
    ModelPipelineBuilder pipelines,
    ILogger<ModelCatalog> logger) : IAsyncDisposable
{
    // Replaced whole, once: readers see either no model or every model with its pipeline.
    private volatile Loaded _loaded = new([], FrozenDictionary<string, ModelPipeline>.Empty);

    /// <summary>Every served model, in configuration order.</summary>
    public IReadOnlyList<ServedModel> Models => _loaded.Models;

    /// <summary>
    /// Brings every model up: weights loaded, clients built, what the backend can tell about the model (its
    /// context length) learned. A model that cannot be brought up stops the start with its message, and the
    /// models already up are released.
    /// </summary>
    public async Task LoadAsync(CancellationToken cancellationToken)
    {
        if (_loaded.Models.Count > 0)
        {
            throw new InvalidOperationException("The model catalog is already loaded.");
        }
        var byName = backends.ToDictionary(b => b.Name, StringComparer.OrdinalIgnoreCase);
        var models = new List<ServedModel>();
        try
        {
            if (options.Value.Models.Count == 0)
            {
                models.Add(await demoModels.CreateDemoModelAsync(cancellationToken));
            }
            foreach (var model in options.Value.Models)
            {
                // Validation at start guarantees the backend exists.
                models.Add(await byName[model.Backend].CreateAsync(model, cancellationToken));
            }
        }
        catch
        {
            foreach (var created in models)
            {
                await created.DisposeAsync();
            }
            throw;
        }

        _loaded = new Loaded(models, models.ToFrozenDictionary(m => m.Id, pipelines.Build, StringComparer.Ordinal));
        foreach (var model in models)
        {
            logger.LogInformation("Serving model {Model} on the {Backend} backend{Demo}",
                model.Id, model.Backend, model.IsDemo ? " (built-in demo model)" : "");
        }
    }

    /// <summary>Finds a model and its pipeline by the exact id clients send.</summary>
    public bool TryGet(string id, [NotNullWhen(true)] out ModelPipeline? pipeline) => _loaded.Pipelines.TryGetValue(id, out pipeline);

    /// <summary>The model a request names, with its pipeline; 400 when <c>model</c> is missing, 404 when unknown.</summary>
    public ModelPipeline Find(string? id)
    {
        if (string.IsNullOrEmpty(id))
        {
            throw ApiErrorException.InvalidRequest("Missing required parameter: 'model'.", "model", "missing_required_parameter");
        }
        return TryGet(id, out var pipeline) ? pipeline : throw ApiErrorException.ModelNotFound(id);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var model in _loaded.Models)
        {
            await model.DisposeAsync();
        }
    }

    private sealed record Loaded(IReadOnlyList<ServedModel> Models, FrozenDictionary<string, ModelPipeline> Pipelines);
}
