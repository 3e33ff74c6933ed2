using LlmStack.Api.Backends;
using LlmStack.Api.Configuration;
using LlmStack.Api.Limits;
using LlmStack.Api.Telemetry;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace LlmStack.Api.Pipeline;

/// <summary>
/// Wraps every model's clients, once at start, in the layers all backends share, so that every backend is
/// admitted, traced and bounded the same way. Per request, <see cref="RequestOutcome"/> adds the outermost layer,
/// so a refused request is recorded as one and the time to first token includes the queue.
/// </summary>
internal sealed class ModelPipelineBuilder(
    ModelAdmission admission, LlmStackMetrics metrics, ILoggerFactory loggerFactory, IOptions<LlmStackOptions> options)
{
    public ModelPipeline Build(ServedModel model)
    {
        var gate = admission.For(model);
        var chat = new ChatClientBuilder(model.ChatClient)
            .Use(inner => new AdmissionChatClient(inner, gate))
            // Once only: a second OpenTelemetry layer would count every call twice.
            .UseOpenTelemetry(loggerFactory, configure: otel => otel.EnableSensitiveData = options.Value.LogContent)
            // Innermost: a backend that never answers becomes a 504 that the layers above trace and record.
            .Use(inner => new FirstTokenTimeoutChatClient(inner, model.Id, model.FirstTokenTimeout))
            .Build();
        var embeddings = model.EmbeddingGenerator is { } generator
            ? new EmbeddingGeneratorBuilder<string, Embedding<float>>(generator)
                .Use(inner => new AdmissionEmbeddingGenerator(inner, gate))
                .UseOpenTelemetry(loggerFactory, configure: otel => otel.EnableSensitiveData = options.Value.LogContent)
                .Use(inner => new EmbeddingDeadlineGenerator(inner, model.Id, model.FirstTokenTimeout))
                .Build()
            : null;
        var reranker = model.Rerank.Reranker is { } rerank ? new AdmittedReranker(rerank, gate, model.Id, model.FirstTokenTimeout) : null;
        metrics.Served(model.Id, model.Backend, embeddings is not null);
        return new ModelPipeline(model, chat, embeddings, reranker);
    }
}
