using LlmStack.Api.Backends;
using LlmStack.Api.Models;
using Microsoft.Extensions.AI;

namespace LlmStack.Api.Telemetry;

/// <summary>
/// The pipeline every model's chat client is wrapped in once, at start. Everything backend-agnostic that
/// measures or observes a call lives here so that all backends are measured the same way.
/// </summary>
public sealed class ChatPipeline
{
    public IChatClient Build(ServedModel model) =>
        new ChatClientBuilder(model.ChatClient).UseFirstTokenTimeout(model).Build();
}
