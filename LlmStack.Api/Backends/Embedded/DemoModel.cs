using LlmStack.Api.Configuration;
using LlmStack.Api.Pipeline;
using LlmStack.Gguf;

namespace LlmStack.Api.Backends.Embedded;

/// <summary>
/// The model served when <c>LlmStack:Models</c> is empty: <c>llmstack-demo</c>, a tiny GGUF generated at start
/// (milliseconds) whose scripted weights make real llama.cpp inference always answer with <see cref="Reply"/>:
/// what it is, and how to connect a real model.
/// </summary>
internal sealed class DemoModel(EmbeddedBackend backend, ILogger<DemoModel> logger) : IDemoModelSource
{
    public const string Id = "llmstack-demo";

    public const string Reply =
        "Hi! I am **llmstack-demo**, LlmStack's built-in demo model: a tiny model generated at start, so every " +
        "answer is this message, produced by real llama.cpp inference.\n\n" +
        "To chat with **Qwen2.5 7B**, pick one:\n\n" +
        "1. **Start Docker** and run the AppHost: it starts Ollama and pulls `qwen2.5:7b`.\n" +
        "2. **Install Ollama**, run `ollama pull qwen2.5:7b`, and set `LlmStack:Models:0:Backend=ollama`, " +
        "`LlmStack:Models:0:Endpoint=http://localhost:11434` and `LlmStack:Models:0:Id=qwen2.5:7b`.\n" +
        "3. **Point `LlmStack:Models` at a GGUF file**: `LlmStack:Models:0:Backend=embedded`, " +
        "`LlmStack:Models:0:Path=/models/qwen2.5-7b-instruct-q4_k_m.gguf`, `LlmStack:Models:0:Id=qwen2.5:7b`.";

    public Task<ServedModel> CreateDemoModelAsync(CancellationToken cancellationToken)
    {
        var directory = Path.Combine(Path.GetTempPath(), "llmstack");
        var path = Path.Combine(directory, $"{Id}-{Environment.ProcessId}.gguf");
        ScriptedModel.Write(path, new ScriptedModelSpec(Reply) { Name = Id });
        logger.LogInformation("No model configured (LlmStack:Models is empty): serving the built-in demo model {Model}", Id);
        var served = backend.Serve(new ModelOptions { Id = Id, Backend = EmbeddedBackend.BackendName, Path = path }, isDemo: true);
        // The weights are in memory now; the file is not needed any more.
        File.Delete(path);
        return Task.FromResult(served);
    }
}
