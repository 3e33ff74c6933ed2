using LlmStack.Api.Backends;
using LlmStack.Api.Limits;
using LlmStack.Api.Models;
using Microsoft.Extensions.AI;

namespace LlmStack.Api.Pipeline;

/// <summary>
/// A served model with its clients wrapped, once at start, in what every backend shares (OpenTelemetry, the
/// first-token deadline), and its admission <see cref="Gate"/>, which every call passes first. Requests reach the
/// clients through <see cref="RequestOutcome.Track(ModelPipeline)"/>.
/// </summary>
internal sealed record ModelPipeline(
    ServedModel Model,
    IChatClient ChatClient,
    IEmbeddingGenerator<string, Embedding<float>>? EmbeddingGenerator,
    AdmissionGate Gate)
{
    /// <summary>The model that takes a request this one cannot serve (<c>LlmStack:Models:&lt;n&gt;:Fallback</c>), if any.</summary>
    public ModelPipeline? Fallback { get; init; }

    /// <summary>The model's reranker, bounded by its deadline; null when the model cannot rerank (<see cref="ServedModel.Rerank"/> says why).</summary>
    public IModelReranker? Reranker { get; init; }
}
