namespace LlmStack.AppHost.Embedded;

/// <summary>
/// A model the API runs in-process from a Hugging Face source (<c>Embedded:Model</c>). The API downloads, verifies
/// and loads it; this resource shows that in the dashboard - the download's progress as its state, the API's
/// account of it in its log - and is healthy once the API reports the model ready.
/// </summary>
public sealed class EmbeddedModelResource(string name, string modelId, string source, ProjectResource api)
    : Resource(name), IResourceWithParent<ProjectResource>
{
    /// <summary>The id clients send as <c>model</c>.</summary>
    public string ModelId { get; } = string.IsNullOrWhiteSpace(modelId)
        ? throw new ArgumentException("A model id is required.", nameof(modelId))
        : modelId;

    /// <summary>Where the API downloads it from (<c>hf://...</c>).</summary>
    public string Source { get; } = string.IsNullOrWhiteSpace(source)
        ? throw new ArgumentException("A source is required.", nameof(source))
        : source;

    /// <summary>The API that runs it.</summary>
    public ProjectResource Parent { get; } = api ?? throw new ArgumentNullException(nameof(api));
}
