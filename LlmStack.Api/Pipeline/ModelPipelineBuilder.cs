using LlmStack.Api.Backends;
using LlmStack.Api.Configuration;
using LlmStack.Api.Limits;
using LlmStack.Api.Telemetry;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace LlmStack.Api.Pipeline;

/// <summary>
/// Wraps every model's clients, once at start, in the layers all backends share, so that every backend is
/// traced and bounded the same way, and gives it its admission gate. Per request, the call passes the gate
/// (<c>ModelCall</c>, which knows the caller's key) and <see cref="RequestOutcome"/> adds the outermost layer.
/// </summary>
internal sealed class ModelPipelineBuilder(
    ModelAdmission admission, LlmStackMetrics metrics, ILoggerFactory loggerFactory, IOptions<LlmStackOptions> options)
{
    public ModelPipeline Build(ServedModel model)
    {
        var gate = admission.For(model);
        var chat = new ChatClientBuilder(model.ChatClient)
            // Once only: a second OpenTelemetry layer would count every call twice.
            .UseOpenTelemetry(loggerFactory, configure: otel => otel.EnableSensitiveData = options.Value.LogContent)
            // Innermost: a backend that never answers becomes a 504 that the layers above trace and record.
            // A model with replicas bounds each attempt on a replica instead (RoutedChatClient), so a retry gets its own.
            .Use(inner => model.Replicas.Count > 0 ? inner : new FirstTokenTimeoutChatClient(inner, model.Id, model.FirstTokenTimeout))
            .Build();
        var embeddings = model.EmbeddingGenerator is { } generator
            ? new EmbeddingGeneratorBuilder<string, Embedding<float>>(generator)
                .UseOpenTelemetry(loggerFactory, configure: otel => otel.EnableSensitiveData = options.Value.LogContent)
                .Use(inner => model.Replicas.Count > 0 ? inner : new EmbeddingDeadlineGenerator(inner, model.Id, model.FirstTokenTimeout))
                .Build()
            : null;
        metrics.Served(model.Id, model.Backend, embeddings is not null);
        return new ModelPipeline(model, chat, embeddings, gate)
        {
            Reranker = model.Rerank.Reranker is { } reranker ? new RerankDeadline(reranker, model.Id, model.FirstTokenTimeout) : null,
        };
    }
}
