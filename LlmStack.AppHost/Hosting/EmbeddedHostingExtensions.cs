using Aspire.Hosting.ApplicationModel;
using LlmStack.AppHost.Embedded;

namespace LlmStack.AppHost.Hosting;

/// <summary>LlmStack's model for a machine without Ollama: <c>Embedded:Model</c>, run in the API itself.</summary>
public static class EmbeddedHostingExtensions
{
    /// <summary>
    /// When <c>Embedded:Model</c> names a Hugging Face source, the API runs it in-process (downloaded, verified and
    /// cached by the API), shown as a child resource of the API whose state follows the download. Call it only when
    /// there is no Ollama. Returns null when <c>Embedded:Model</c> is not set (the API serves its built-in demo
    /// model) and when publishing (a deployment's API is configured per compose profile).
    /// </summary>
    /// <exception cref="DistributedApplicationException"><c>Embedded:Model</c> is not a Hugging Face source.</exception>
    public static IResourceBuilder<EmbeddedModelResource>? AddEmbeddedModelForLlmStack(this IDistributedApplicationBuilder builder,
        IResourceBuilder<ProjectResource> api, IResourceBuilder<ParameterResource> apiKey)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(api);
        ArgumentNullException.ThrowIfNull(apiKey);

        var settings = EmbeddedHostingSettings.Read(builder.Configuration);
        if (settings.Source is null || builder.ExecutionContext.IsPublishMode)
        {
            return null;
        }
        return api.WithEmbeddedModel(settings.ResourceName!, settings.ModelId!, settings.Source, apiKey);
    }

    /// <summary>The AppHost key naming a llama.cpp build for this machine's CPU (<see cref="WithLlamaCppLibraries"/>).</summary>
    public const string LlamaCppLibrariesKey = "Embedded:LlamaCppLibraries";

    /// <summary>
    /// <c>Embedded:LlamaCppLibraries</c>: the folder of a llama.cpp build for this machine's CPU (deploy/build-llama-cpp.sh)
    /// that the API runs its embedded models with, handed to it as <c>LlmStack:LlamaCppLibraries</c> (an absolute path;
    /// the API checks the folder at start and says what is wrong with it). Not published: a deployment's API image carries
    /// its own build (deploy/docker/build-images.sh).
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithLlamaCppLibraries(this IResourceBuilder<ProjectResource> api)
    {
        ArgumentNullException.ThrowIfNull(api);
        var folder = api.ApplicationBuilder.Configuration[LlamaCppLibrariesKey];
        return folder is { Length: > 0 } && api.ApplicationBuilder.ExecutionContext.IsRunMode
            ? api.WithEnvironment("LlmStack__LlamaCppLibraries", Path.GetFullPath(folder))
            : api;
    }

    /// <summary>What the API serves when there is no Ollama, as the mode line says it.</summary>
    internal static string WithoutOllama(EmbeddedHostingSettings settings) => settings.Source is null
        ? $"the API serves its built-in demo model (set {EmbeddedHostingSettings.ModelKey}=hf://<owner>/<repo>:<quant> to run a real one in-process)"
        : $"the API runs {settings.Source} in-process ({EmbeddedHostingSettings.ModelKey}; downloaded into its model cache on first start)";
}
