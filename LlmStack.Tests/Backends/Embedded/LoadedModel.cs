using LlmStack.Api.Backends.Embedded;
using LlmStack.Api.Configuration;
using LlmStack.Api.Pipeline;

namespace LlmStack.Tests.Backends.Embedded;

/// <summary>A generated GGUF loaded by the embedded engine, and its chat client; dispose it to unload the model.</summary>
internal sealed record LoadedModel(EmbeddedModelHost Host, EmbeddedChatClient Client) : IDisposable
{
    /// <summary>Loads <paramref name="path"/> as the embedded backend would, named after the file.</summary>
    public static LoadedModel Load(string path, int? parallelSlots = null, int? contextSize = null, int? kvCacheSize = null, int? stepTokens = null, TimeSpan? queueTimeout = null)
    {
        var options = new ModelOptions
        {
            Id = Path.GetFileNameWithoutExtension(path),
            Backend = EmbeddedBackend.BackendName,
            Path = path,
            Embedded = new() { ParallelSlots = parallelSlots, ContextSize = contextSize, KvCacheSize = kvCacheSize, StepTokens = stepTokens },
        };
        if (queueTimeout is { } timeout)
        {
            options.QueueTimeout = timeout;
        }
        var host = EmbeddedModelHost.Load(options);
        return new LoadedModel(host, new EmbeddedChatClient(host));
    }

    public void Dispose() => Host.Dispose();
}
