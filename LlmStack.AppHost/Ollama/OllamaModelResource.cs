namespace LlmStack.AppHost.Ollama;

/// <summary>
/// A model served by an Ollama server. Pulled once the server is healthy; healthy itself once Ollama reports
/// the model present, so <c>WaitFor(model)</c> waits for the download.
/// </summary>
public sealed class OllamaModelResource(string name, string modelName, IOllamaResource parent)
    : Resource(name), IResourceWithParent<IOllamaResource>
{
    /// <summary>The model's name at Ollama, with its tag (<c>qwen2.5:7b</c>).</summary>
    public string ModelName { get; } = string.IsNullOrWhiteSpace(modelName)
        ? throw new ArgumentException("A model name is required.", nameof(modelName))
        : modelName;

    public IOllamaResource Parent { get; } = parent ?? throw new ArgumentNullException(nameof(parent));
}
