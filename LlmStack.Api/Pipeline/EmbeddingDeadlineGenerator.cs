using Microsoft.Extensions.AI;

namespace LlmStack.Api.Pipeline;

/// <summary>
/// The embedding counterpart of <see cref="FirstTokenTimeoutChatClient"/>: an embedding has no first token, so the
/// model's <c>FirstTokenTimeout</c> bounds the whole call.
/// </summary>
internal sealed class EmbeddingDeadlineGenerator(IEmbeddingGenerator<string, Embedding<float>> inner, string model, TimeSpan timeout)
    : DelegatingEmbeddingGenerator<string, Embedding<float>>(inner)
{
    public override Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(
        IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default) =>
        Deadline.BoundAsync(model, timeout, cancellationToken, bounded => base.GenerateAsync(values, options, bounded));
}
