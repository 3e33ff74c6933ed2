using Microsoft.Extensions.AI;

namespace LlmStack.Api.Backends.Upstream;

/// <summary>The embedding counterpart of <see cref="UpstreamErrorChatClient"/>.</summary>
internal sealed class UpstreamErrorEmbeddingGenerator(
    IEmbeddingGenerator<string, Embedding<float>> inner, string model, MissingModel missingModel = MissingModel.NotFound)
    : DelegatingEmbeddingGenerator<string, Embedding<float>>(inner)
{
    public override async Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(
        IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        try
        {
            return await base.GenerateAsync(values, options, cancellationToken);
        }
        catch (Exception ex) when (UpstreamErrors.Translate(ex, model, cancellationToken, missingModel) is var translated && translated != ex)
        {
            throw translated;
        }
    }
}
