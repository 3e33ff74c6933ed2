using Microsoft.Extensions.AI;

namespace LlmStack.Api.Pipeline;

/// <summary>The embedding counterpart of <see cref="RoutedChatClient"/>: the same choice and failover, no conversation.</summary>
internal sealed class RoutedEmbeddingGenerator(ReplicaSet replicas) : IEmbeddingGenerator<string, Embedding<float>>
{
    public async Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(
        IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        var attempts = new RouteAttempts();
        while (true)
        {
            var replica = replicas.Choose(null, attempts.Tried) ?? throw replicas.NoneLeft(attempts);
            attempts.Trying(replica);
            using var call = replica.Start(replicas.Metrics);
            try
            {
                var embeddings = await replica.Embeddings!.GenerateAsync(values, options, cancellationToken);
                replicas.Succeeded(call, firstToken: false);
                return embeddings;
            }
            catch (Exception ex) when (replicas.TryAnother(replica, ex, attempts, cancellationToken))
            {
                // The next replica.
            }
        }
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is null && serviceType.IsInstanceOfType(this) ? this : null;

    public void Dispose()
    {
        // The replicas belong to the model (ReplicaSet), released with it.
    }
}
