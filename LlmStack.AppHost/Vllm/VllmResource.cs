namespace LlmStack.AppHost.Vllm;

/// <summary>vLLM's OpenAI-compatible server in a container (<c>vllm/vllm-openai</c>), on the <c>http</c> endpoint.</summary>
public sealed class VllmResource(string name, string model) : ContainerResource(name)
{
    internal const string HttpEndpointName = "http";
    internal const int DefaultPort = 8000;

    /// <summary>Where the image keeps downloaded weights: a volume, so a restart does not download 15 GB again.</summary>
    internal const string HuggingFaceCachePath = "/root/.cache/huggingface";

    /// <summary>The Hugging Face model it serves, e.g. <c>Qwen/Qwen2.5-7B-Instruct</c>.</summary>
    public string Model { get; } = string.IsNullOrWhiteSpace(model)
        ? throw new ArgumentException("A model is required.", nameof(model))
        : model;

    public EndpointReference PrimaryEndpoint => field ??= new(this, HttpEndpointName);
}
