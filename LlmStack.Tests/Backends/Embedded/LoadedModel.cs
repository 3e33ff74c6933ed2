using LlmStack.Api.Backends.Embedded;
using LlmStack.Api.Configuration;
using LlmStack.Api.Pipeline;
using LlmStack.Tests.Fixtures;
using Microsoft.Extensions.AI;

namespace LlmStack.Tests.Backends.Embedded;

/// <summary>A generated GGUF loaded by the embedded engine, and its chat client; dispose it to unload the model.</summary>
internal sealed record LoadedModel(EmbeddedModelHost Host, EmbeddedChatClient Client) : IDisposable
{
    /// <summary>Loads <paramref name="path"/> as the embedded backend would, named after the file.</summary>
    public static LoadedModel Load(string path, int? parallelSlots = null, int? contextSize = null, int? kvCacheSize = null, int? stepTokens = null, TimeSpan? queueTimeout = null, long? hostCacheBytes = null, TimeSpan? targetTokenGap = null, int? batchSize = null)
    {
        var options = new ModelOptions
        {
            Id = Path.GetFileNameWithoutExtension(path),
            Backend = EmbeddedBackend.BackendName,
            Path = path,
            Embedded = new() { ParallelSlots = parallelSlots, ContextSize = contextSize, KvCacheSize = kvCacheSize, StepTokens = stepTokens, HostCacheBytes = hostCacheBytes, TargetTokenGap = targetTokenGap, BatchSize = batchSize },
        };
        if (queueTimeout is { } timeout)
        {
            options.QueueTimeout = timeout;
        }
        var host = EmbeddedModelHost.Load(options);
        return new LoadedModel(host, new EmbeddedChatClient(host));
    }

    /// <summary>Asks <paramref name="question"/> as the next turn of <paramref name="conversation"/> (a scripted model's), which gets the reply added.</summary>
    public async Task<ChatResponse> TurnAsync(List<ChatMessage> conversation, string question)
    {
        conversation.Add(new ChatMessage(ChatRole.User, question));
        var reply = await Client.GetResponseAsync(conversation, cancellationToken: TestContext.Current.CancellationToken)
            .WaitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);
        Assert.Equal(GeneratedModels.ScriptedReply, reply.Text);
        conversation.AddRange(reply.Messages);
        return reply;
    }

    public void Dispose() => Host.Dispose();
}
