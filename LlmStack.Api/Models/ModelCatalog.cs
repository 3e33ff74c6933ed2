using System.Collections.Frozen;
using LlmStack.Api.Backends;
using LlmStack.Api.Telemetry;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace LlmStack.Api.Models;

/// <summary>
/// Maps a request's <c>model</c> to the model that serves it. Built once at start from
/// <c>LlmStack:Models</c> (or the built-in demo model when nothing is configured); each model's chat client
/// is wrapped once in the shared pipeline (metrics, logging) so every backend is measured the same way.
/// </summary>
public sealed class ModelCatalog : IAsyncDisposable
{
    private readonly FrozenDictionary<string, CatalogEntry> _entries;

    public ModelCatalog(
        IOptions<LlmStackOptions> options,
        IEnumerable<IModelBackend> backends,
        IDemoModelSource demoModels,
        ChatPipeline pipeline)
    {
        var byName = backends.ToDictionary(b => b.Name, StringComparer.OrdinalIgnoreCase);
        var models = new List<ServedModel>();
        try
        {
            if (options.Value.Models.Count == 0)
            {
                models.Add(demoModels.CreateDemoModel());
            }
            foreach (var model in options.Value.Models)
            {
                // Validation at start guarantees the backend exists.
                models.Add(byName[model.Backend].Create(model));
            }
        }
        catch
        {
            foreach (var created in models)
            {
                created.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
            throw;
        }

        Models = models;
        _entries = models.ToFrozenDictionary(
            m => m.Id,
            m => new CatalogEntry(m, pipeline.Build(m)),
            StringComparer.Ordinal);
    }

    /// <summary>Every served model, in configuration order.</summary>
    public IReadOnlyList<ServedModel> Models { get; }

    /// <summary>Finds a model by the exact id clients send.</summary>
    public bool TryGet(string id, out ServedModel model, out IChatClient chatClient)
    {
        if (_entries.TryGetValue(id, out var entry))
        {
            (model, chatClient) = (entry.Model, entry.ChatClient);
            return true;
        }
        (model, chatClient) = (null!, null!);
        return false;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var model in Models)
        {
            await model.DisposeAsync();
        }
    }

    private sealed record CatalogEntry(ServedModel Model, IChatClient ChatClient);
}
