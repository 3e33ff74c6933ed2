using Microsoft.Extensions.AI;

namespace LlmStack.Api.Limits;

/// <summary>
/// The embedding counterpart of <see cref="AdmissionChatClient"/>: embeddings take the model's compute as chats do,
/// so the same gate bounds them, for the whole call.
/// </summary>
internal sealed class AdmissionEmbeddingGenerator(IEmbeddingGenerator<string, Embedding<float>> inner, AdmissionGate gate)
    : DelegatingEmbeddingGenerator<string, Embedding<float>>(inner)
{
    public override async Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(
        IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        using var admission = await gate.EnterAsync(cancellationToken);
        return await base.GenerateAsync(values, options, cancellationToken);
    }
}
