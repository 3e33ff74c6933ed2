using LlmStack.Api.Backends;
using LlmStack.Api.Limits;
using LlmStack.Api.Models;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace LlmStack.Api.Telemetry;

/// <summary>
/// The pipeline every model's chat client is wrapped in once, at start. Everything backend-agnostic that
/// measures or observes a call lives here so that all backends are measured the same way.
/// </summary>
public sealed class ChatPipeline(LlmStackMetrics metrics, ModelAdmission admission, ILoggerFactory loggerFactory, IOptions<LlmStackOptions> options)
{
    public IChatClient Build(ServedModel model) =>
        new ChatClientBuilder(model.ChatClient)
            // Outermost, so that the server metrics cover everything below, including the time spent in the pipeline.
            .Use(inner => new MeteredChatClient(inner, model, metrics))
            // Under the metrics, so a refused request is measured as one, and time to first token includes the queue.
            .Use(inner => new AdmissionChatClient(inner, admission.For(model)))
            // Once only: a second OpenTelemetry layer would count every call twice.
            .UseOpenTelemetry(loggerFactory, configure: otel => otel.EnableSensitiveData = options.Value.LogContent)
            // Innermost: a backend that never answers becomes a 504 that the layers above measure and log.
            .UseFirstTokenTimeout(model)
            .Build();
}
