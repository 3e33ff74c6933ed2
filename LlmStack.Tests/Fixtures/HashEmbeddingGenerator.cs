using Microsoft.Extensions.AI;

namespace LlmStack.Tests.Fixtures;

/// <summary>
/// A deterministic embedding generator for API tests: each text maps to a fixed 4-dimensional vector built
/// from its length and first character, and usage counts one token per word.
/// </summary>
public sealed class HashEmbeddingGenerator : IEmbeddingGenerator<string, Embedding<float>>
{
    public static float[] VectorOf(string text) => [text.Length, text[0], 0.5f, -1.25f];

    public Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        var texts = values.ToList();
        var words = texts.Sum(t => t.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length);
        return Task.FromResult(new GeneratedEmbeddings<Embedding<float>>(texts.Select(t => new Embedding<float>(VectorOf(t))))
        {
            Usage = new UsageDetails { InputTokenCount = words, TotalTokenCount = words },
        });
    }

    public object? GetService(Type serviceType, object? serviceKey = null) => null;

    public void Dispose()
    {
    }
}
