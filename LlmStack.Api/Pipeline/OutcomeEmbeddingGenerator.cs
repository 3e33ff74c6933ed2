using LlmStack.Api.Telemetry;
using Microsoft.Extensions.AI;

namespace LlmStack.Api.Pipeline;

/// <summary>The embedding counterpart of <see cref="OutcomeChatClient"/>: in flight while it runs, then its usage.</summary>
internal sealed class OutcomeEmbeddingGenerator(
    IEmbeddingGenerator<string, Embedding<float>> pipeline, RequestOutcome outcome, LlmStackMetrics metrics)
    : DelegatingEmbeddingGenerator<string, Embedding<float>>(pipeline)
{
    public override async Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(
        IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        using var inFlight = metrics.InFlight(outcome.Model?.Id, outcome.Model?.Backend, outcome.Operation);
        var embeddings = await base.GenerateAsync(values, options, cancellationToken);
        outcome.Observe(embeddings);
        return embeddings;
    }
}
