using Microsoft.Extensions.AI;

namespace LlmStack.Api.Pipeline;

/// <summary>The embedding counterpart of <see cref="OutcomeChatClient"/>: the embeddings' usage, settled when they are made.</summary>
internal sealed class OutcomeEmbeddingGenerator(IEmbeddingGenerator<string, Embedding<float>> pipeline, RequestOutcome outcome)
    : DelegatingEmbeddingGenerator<string, Embedding<float>>(pipeline)
{
    public override async Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(
        IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        var embeddings = await base.GenerateAsync(values, options, cancellationToken);
        await outcome.ObserveAsync(embeddings);
        return embeddings;
    }
}
