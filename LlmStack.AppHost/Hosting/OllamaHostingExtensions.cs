using Aspire.Hosting.ApplicationModel;
using LlmStack.AppHost.Ollama;

namespace LlmStack.AppHost.Hosting;

/// <summary>What the AppHost found on this machine when choosing where Ollama runs.</summary>
/// <param name="FindContainerRuntime">Asks the container runtimes (given Aspire's configured one, if any).</param>
/// <param name="FindOllamaExecutable">The full path of <c>ollama</c> on PATH, or null.</param>
/// <param name="FindContainerImage">Asks a runtime whether it has, or can pull, an image.</param>
internal sealed record OllamaHostProbes(
    Func<string?, ContainerRuntimeAnswer> FindContainerRuntime,
    Func<string?> FindOllamaExecutable,
    Func<string, string, ContainerImageAnswer> FindContainerImage)
{
    public static OllamaHostProbes ThisMachine { get; } = new(
        configured => ContainerRuntimeProbe.FindAsync(configured, ContainerRuntimeProbe.DefaultTimeout).GetAwaiter().GetResult(),
        () => ExecutableSearch.FindOnPath("ollama"),
        (runtime, image) => ContainerImageProbe.FindAsync(runtime, image, ContainerImageProbe.PullTimeout).GetAwaiter().GetResult());
}

/// <summary>
/// Where Ollama runs, and why (the reason is printed on the console). <paramref name="Failure"/> is set when the
/// configured mode cannot run here but the AppHost still starts (the container's image cannot be had): what failed
/// and what to do, printed and shown in the dashboard.
/// </summary>
internal sealed record OllamaPlacement(OllamaHostingMode Mode, string Reason, string? ContainerRuntime = null, string? OllamaExecutable = null,
    string? Failure = null);

/// <summary>LlmStack's choice of where Ollama runs (<c>Ollama:*</c> configuration), made before anything is added.</summary>
public static class OllamaHostingExtensions
{
    /// <summary>Resource name of the Ollama server, in every mode.</summary>
    public const string OllamaResourceName = "ollama";

    /// <summary>The container's model store: a named volume, the same on every machine and in the manifest.</summary>
    public const string ModelVolumeName = "llmstack-ollama-models";

    /// <summary>
    /// Adds Ollama where <c>Ollama:Mode</c> says (default <c>auto</c>: a container when Docker or Podman answers,
    /// else <c>ollama serve</c> from PATH, else none) with the model <c>Ollama:Model</c> (default qwen2.5:7b), and
    /// prints the choice on one console line. Publishing always models the container. Returns the model, or
    /// null when there is no Ollama: the API then runs <c>Embedded:Model</c> in-process, or serves its built-in demo model.
    /// </summary>
    /// <exception cref="DistributedApplicationException">
    /// The configuration is invalid, or the requested mode cannot run here; the message names the key.
    /// </exception>
    public static IResourceBuilder<OllamaModelResource>? AddOllamaForLlmStack(this IDistributedApplicationBuilder builder) =>
        builder.AddOllamaForLlmStack(OllamaHostProbes.ThisMachine, Console.Out);

    internal static IResourceBuilder<OllamaModelResource>? AddOllamaForLlmStack(
        this IDistributedApplicationBuilder builder, OllamaHostProbes probes, TextWriter console)
    {
        ArgumentNullException.ThrowIfNull(builder);

        var settings = OllamaHostingSettings.Read(builder.Configuration);
        var embedded = EmbeddedHostingSettings.Read(builder.Configuration);
        var placement = Choose(settings, builder.ExecutionContext.IsPublishMode, probes,
            configuredRuntime: AspireContainerRuntime.Configured(builder.Configuration),
            withoutOllama: EmbeddedHostingExtensions.WithoutOllama(embedded));

        if (placement.Failure is not null)
        {
            console.WriteLine($"Ollama: {placement.Mode.ToString().ToLowerInvariant()} failed - {placement.Failure}");
            builder.AddFailedOllama(OllamaResourceName, placement.Failure);
            return null;
        }
        console.WriteLine(
            $"Ollama: {placement.Mode.ToString().ToLowerInvariant()} - {placement.Reason}. " +
            $"Choose with {OllamaHostingSettings.ModeKey}={OllamaHostingSettings.ModeChoices} " +
            $"(e.g. dotnet run --project LlmStack.AppHost -- --{OllamaHostingSettings.ModeKey}=local)." +
            (embedded.Source is not null && placement.Mode != OllamaHostingMode.None
                ? $" {embedded.ModeKeyNote(OllamaHostingSettings.ModeKey)}"
                : ""));

        IResourceBuilder<IOllamaResource>? server = placement.Mode switch
        {
            OllamaHostingMode.Container => builder.AddOllamaContainer(settings, placement.ContainerRuntime, console),
            OllamaHostingMode.Local => builder.AddOllamaLocal(OllamaResourceName, placement.OllamaExecutable!),
            OllamaHostingMode.External => builder.AddExternalOllama(OllamaResourceName, settings.Url!),
            _ => null,
        };
        return server?.AddModel(settings.Model);
    }

    /// <param name="withoutOllama">What the API serves when there is no Ollama, for the reason's text.</param>
    internal static OllamaPlacement Choose(OllamaHostingSettings settings, bool isPublishMode, OllamaHostProbes probes, string? configuredRuntime,
        string withoutOllama = "the API serves its built-in demo model")
    {
        if (isPublishMode)
        {
            return new(OllamaHostingMode.Container, "publishing always models the Ollama container (the target host runs Docker)");
        }

        switch (settings.Mode)
        {
            case OllamaHostingMode.None:
                return new(OllamaHostingMode.None, $"as configured; {withoutOllama}");
            case OllamaHostingMode.External:
                return new(OllamaHostingMode.External, $"as configured, {settings.Url}");
            case OllamaHostingMode.Auto when settings.Url is not null:
                return new(OllamaHostingMode.External, $"{OllamaHostingSettings.UrlKey} is set, {settings.Url}");
            case OllamaHostingMode.Container:
            {
                var runtime = probes.FindContainerRuntime(configuredRuntime);
                if (runtime.Runtime is null)
                {
                    throw new DistributedApplicationException(
                        $"LlmStack cannot start: {OllamaHostingSettings.ModeKey}=container, but no container runtime answered ({runtime.Detail}). " +
                        $"Start Docker or Podman, or choose another {OllamaHostingSettings.ModeKey} ({OllamaHostingSettings.ModeChoices}).");
                }
                var image = probes.FindContainerImage(runtime.Runtime, settings.Image.Reference);
                return image.Available
                    ? new(OllamaHostingMode.Container, $"as configured, on {runtime.Detail}; {image.Detail}", ContainerRuntime: runtime.Runtime)
                    : new(OllamaHostingMode.Container, "", ContainerRuntime: runtime.Runtime, Failure:
                        $"{image.Detail}. To fix: {runtime.Runtime} pull {settings.Image.Reference} once a registry answers, set " +
                        $"{OllamaHostingSettings.ImageKey}/{OllamaHostingSettings.ImageTagKey} to an image this machine has, or choose another " +
                        $"{OllamaHostingSettings.ModeKey} ({OllamaHostingSettings.ModeChoices}). Meanwhile {withoutOllama}.");
            }
            case OllamaHostingMode.Local:
            {
                var executable = probes.FindOllamaExecutable();
                return executable is null
                    ? throw new DistributedApplicationException(
                        $"LlmStack cannot start: {OllamaHostingSettings.ModeKey}=local, but 'ollama' is not on PATH. " +
                        $"Install it from https://ollama.com, or choose another {OllamaHostingSettings.ModeKey} ({OllamaHostingSettings.ModeChoices}).")
                    : new(OllamaHostingMode.Local, $"as configured, {executable} serve", OllamaExecutable: executable);
            }
            default:
            {
                // The container only when it can run: a runtime that answers, and the image present or pullable.
                var runtime = probes.FindContainerRuntime(configuredRuntime);
                string noContainer;
                if (runtime.Runtime is null)
                {
                    noContainer = $"no container runtime ({runtime.Detail})";
                }
                else
                {
                    var image = probes.FindContainerImage(runtime.Runtime, settings.Image.Reference);
                    if (image.Available)
                    {
                        return new(OllamaHostingMode.Container, $"auto found {runtime.Detail}; {image.Detail}", ContainerRuntime: runtime.Runtime);
                    }
                    noContainer = $"{runtime.Detail}, but {image.Detail}";
                }
                var executable = probes.FindOllamaExecutable();
                return executable is not null
                    ? new(OllamaHostingMode.Local, $"auto found {noContainer}; running {executable} serve", OllamaExecutable: executable)
                    : new(OllamaHostingMode.None, $"auto found {noContainer}, and no 'ollama' on PATH; {withoutOllama}");
            }
        }
    }

    private static IResourceBuilder<IOllamaResource> AddOllamaContainer(
        this IDistributedApplicationBuilder builder, OllamaHostingSettings settings, string? containerRuntime, TextWriter console)
    {
        AspireContainerRuntime.UseAnswering(builder.Configuration, containerRuntime);

        var ollama = builder.AddOllama(OllamaResourceName)
            .WithImage(settings.Image.Name, settings.Image.Tag)
            .WithImageRegistry(settings.Image.Registry)
            // A container that fails to start is said on the console, not only in the dashboard.
            .WithStartFailureReport(console)
            // One model store per machine, not per checkout: a 4.7 GB download is worth sharing.
            .WithDataVolume(ModelVolumeName)
            // The container outlives the AppHost: the next run finds the server up and the model loaded.
            .WithLifetime(ContainerLifetime.Persistent);
        if (settings.Gpu)
        {
            ollama.WithGpuSupport();
        }
        return ollama;
    }
}
