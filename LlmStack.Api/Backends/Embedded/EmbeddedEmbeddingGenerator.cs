using LLama.Extensions;
using LLama.Native;
using LlmStack.Api.Errors;
using Microsoft.Extensions.AI;

namespace LlmStack.Api.Backends.Embedded;

/// <summary>
/// Embeddings from the served GGUF model: the mean of its last hidden states over the input's tokens,
/// L2-normalised, in a context of its own; the model's admission gate bounds how many run at once.
/// </summary>
/// <remarks>
/// Written here because LLamaSharp 0.30's own <c>LLamaEmbedder</c> fails as an <see cref="IEmbeddingGenerator"/>
/// (it reads a context it has already disposed) and swaps one context between calls, which is unsafe under
/// concurrency.
/// </remarks>
internal sealed class EmbeddedEmbeddingGenerator(EmbeddedModelHost host) : IEmbeddingGenerator<string, Embedding<float>>
{
    // Mean pooling needs every token of an input in one micro-batch, so batches span the whole context.
    private readonly LLama.Common.ModelParams _parameters = host.Parameters with
    {
        Embeddings = true,
        PoolingType = LLamaPoolingType.Mean,
        BatchSize = (uint)host.ContextSize,
        UBatchSize = (uint)host.ContextSize,
    };

    private readonly EmbeddingGeneratorMetadata _metadata = new("llama.cpp", new Uri(host.Path), host.Id, host.Weights.EmbeddingSize);

    public async Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(
        IEnumerable<string> values,
        EmbeddingGenerationOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        var inputs = values.ToList();
        using var context = host.Weights.CreateContext(_parameters);
        using var abort = DecodeAbort.Register(context.NativeHandle, cancellationToken);
        var results = new GeneratedEmbeddings<Embedding<float>>(inputs.Count);
        var totalTokens = 0;
        var batch = new LLamaBatch();
        foreach (var input in inputs)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var tokens = context.Tokenize(input, addBos: host.Weights.Vocab.ShouldAddBOS, special: false);
            if (tokens.Length == 0)
            {
                throw ApiErrorException.InvalidRequest("An input to embed is empty.", "input");
            }
            if (tokens.Length > context.ContextSize)
            {
                throw ApiErrorException.ContextLengthExceeded(tokens.Length, (int)context.ContextSize);
            }
            context.NativeHandle.MemoryClear();
            batch.Clear();
            batch.AddRange(tokens, 0, LLamaSeqId.Zero, logitsLast: true);
            var result = await context.DecodeAsync(batch, cancellationToken).ConfigureAwait(false);
            if (result == DecodeResult.ComputeAborted)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }
            if (result != DecodeResult.Ok)
            {
                throw new InvalidOperationException($"llama.cpp failed to embed with model '{host.Id}': {result}.");
            }
            var vector = context.NativeHandle.GetEmbeddingsSeq(LLamaSeqId.Zero).ToArray().EuclideanNormalization();
            results.Add(new Embedding<float>(vector) { ModelId = host.Id, CreatedAt = DateTimeOffset.UtcNow });
            totalTokens += tokens.Length;
        }
        results.Usage = new UsageDetails { InputTokenCount = totalTokens, TotalTokenCount = totalTokens };
        return results;
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is not null ? null
        : serviceType == typeof(EmbeddingGeneratorMetadata) ? _metadata
        : serviceType.IsInstanceOfType(this) ? this
        : null;

    public void Dispose()
    {
        // The host owns the weights; the served model disposes it.
    }
}
