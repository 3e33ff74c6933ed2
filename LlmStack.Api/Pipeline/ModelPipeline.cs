using LlmStack.Api.Backends;
using LlmStack.Api.Models;
using Microsoft.Extensions.AI;

namespace LlmStack.Api.Pipeline;

/// <summary>
/// A served model with its clients wrapped, once at start, in what every backend shares (OpenTelemetry, the
/// first-token deadline). Requests reach it through <see cref="RequestOutcome.Track(ModelPipeline)"/>.
/// </summary>
internal sealed record ModelPipeline(
    ServedModel Model,
    IChatClient ChatClient,
    IEmbeddingGenerator<string, Embedding<float>>? EmbeddingGenerator,
    IModelReranker? Reranker);
