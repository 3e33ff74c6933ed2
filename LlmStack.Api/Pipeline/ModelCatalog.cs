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
    ReplicatedModels replicated,
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
                models.Add(await CreateAsync(model, byName, cancellationToken));
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

        var built = models.ToDictionary(m => m.Id, pipelines.Build, StringComparer.Ordinal);
        // Validation at start guarantees that a fallback names another model, one without a fallback of its own.
        foreach (var model in options.Value.Models.Where(m => !string.IsNullOrWhiteSpace(m.Fallback)))
        {
            built[model.Id] = built[model.Id] with { Fallback = built[model.Fallback!] };
        }
        _loaded = new Loaded(models, built.ToFrozenDictionary(StringComparer.Ordinal));
        foreach (var model in models)
        {
            logger.LogInformation("Serving model {Model} on the {Backend} backend{Replicas}{Demo}",
                model.Id, model.Backend, model.Replicas.Count > 0 ? $" ({model.Replicas.Count} replicas)" : "", model.IsDemo ? " (built-in demo model)" : "");
        }
    }

    // Validation at start guarantees every backend named exists.
    private async Task<ServedModel> CreateAsync(ModelOptions model, Dictionary<string, IModelBackend> byName, CancellationToken cancellationToken)
    {
        if (model.Replicas.Count == 0)
        {
            return await byName[model.Backend].CreateAsync(model, cancellationToken);
        }
        var replicas = new List<ServedModel>();
        try
        {
            for (var m = 0; m < model.Replicas.Count; m++)
            {
                var replica = model.ForReplica(m);
                replicas.Add(await byName[replica.Backend].CreateAsync(replica, cancellationToken));
            }
        }
        catch
        {
            foreach (var created in replicas)
            {
                await created.DisposeAsync();
            }
            throw;
        }
        return replicated.Serve(model, replicas);
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
