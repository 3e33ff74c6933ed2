using Aspire.Hosting.ApplicationModel;

namespace LlmStack.AppHost.Vllm;

/// <summary>Adds vLLM's OpenAI-compatible server: the GPU deployment's model server.</summary>
public static class VllmResourceBuilderExtensions
{
    /// <summary>
    /// Adds vLLM serving <paramref name="model"/> (a Hugging Face id) with tool calling enabled through
    /// <paramref name="toolCallParser"/> (Qwen2.5 uses <c>hermes</c>), its API on the <c>http</c> endpoint
    /// (container port 8000) and the Hugging Face cache in a named volume.
    /// </summary>
    public static IResourceBuilder<VllmResource> AddVllm(this IDistributedApplicationBuilder builder, [ResourceName] string name,
        string model, string toolCallParser = "hermes", string cacheVolumeName = "huggingface-cache")
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentException.ThrowIfNullOrWhiteSpace(model);
        ArgumentException.ThrowIfNullOrWhiteSpace(toolCallParser);

        return builder.AddResource(new VllmResource(name, model))
            .WithImage(VllmContainerImageTags.Image, VllmContainerImageTags.Tag)
            .WithImageRegistry(VllmContainerImageTags.Registry)
            .WithIconName("BrainCircuit")
            .WithHttpEndpoint(targetPort: VllmResource.DefaultPort, name: VllmResource.HttpEndpointName)
            .WithVolume(cacheVolumeName, VllmResource.HuggingFaceCachePath)
            // The image's entrypoint is vLLM's OpenAI server; these are its arguments.
            .WithArgs("--model", model, "--port", VllmResource.DefaultPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "--enable-auto-tool-choice", "--tool-call-parser", toolCallParser);
    }
}

/// <summary>The pinned vLLM image: a floating tag would change the server (and its flags) between two deployments.</summary>
internal static class VllmContainerImageTags
{
    public const string Registry = "docker.io";
    public const string Image = "vllm/vllm-openai";
    public const string Tag = "v0.11.0";
}
