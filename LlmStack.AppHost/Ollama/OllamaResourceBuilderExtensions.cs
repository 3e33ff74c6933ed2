using System.Globalization;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;

namespace LlmStack.AppHost.Ollama;

/// <summary>Adds an Ollama server to the app model: as a container, a local process, or an existing server.</summary>
public static class OllamaResourceBuilderExtensions
{
    /// <summary>
    /// Adds Ollama as a container (<c>ollama/ollama</c>, pinned tag) with its API on the <c>http</c> endpoint
    /// (container port 11434) and an HTTP health check on <c>/</c>.
    /// </summary>
    /// <param name="builder">The application builder.</param>
    /// <param name="name">The resource name.</param>
    /// <param name="port">A fixed host port; random when null.</param>
    public static IResourceBuilder<OllamaResource> AddOllama(this IDistributedApplicationBuilder builder, [ResourceName] string name, int? port = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);

        return builder.AddResource(new OllamaResource(name))
            .WithImage(OllamaContainerImageTags.Image, OllamaContainerImageTags.Tag)
            .WithImageRegistry(OllamaContainerImageTags.Registry)
            .WithIconName("BrainCircuit")
            .WithHttpEndpoint(port: port, targetPort: OllamaResource.DefaultPort, name: OllamaResource.HttpEndpointName)
            .WithHttpHealthCheck("/", endpointName: OllamaResource.HttpEndpointName)
            .WithServerCommands();
    }

    /// <summary>
    /// Adds <c>ollama serve</c> as a local process. It listens on a port Aspire allocates (passed as
    /// <c>OLLAMA_HOST</c>), so an Ollama already running on 11434 does not collide with it.
    /// </summary>
    /// <param name="builder">The application builder.</param>
    /// <param name="name">The resource name.</param>
    /// <param name="command">The Ollama executable: a path, or a name looked up on PATH.</param>
    public static IResourceBuilder<OllamaExecutableResource> AddOllamaLocal(this IDistributedApplicationBuilder builder, [ResourceName] string name, string command = "ollama")
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentException.ThrowIfNullOrWhiteSpace(command);

        var resource = new OllamaExecutableResource(name, command, builder.AppHostDirectory);
        return builder.AddResource(resource)
            .WithArgs("serve")
            .WithIconName("BrainCircuit")
            .WithHttpEndpoint(name: OllamaExecutableResource.HttpEndpointName)
            .WithEnvironment(context =>
            {
                var endpoint = resource.PrimaryEndpoint;
                context.EnvironmentVariables["OLLAMA_HOST"] = ReferenceExpression.Create(
                    $"{endpoint.EndpointAnnotation.TargetHost}:{endpoint.Property(EndpointProperty.TargetPort)}");
            })
            .WithHttpHealthCheck("/", endpointName: OllamaExecutableResource.HttpEndpointName)
            .WithServerCommands()
            // A process on the developer's machine has no place on a deployment target.
            .ExcludeFromManifest();
    }

    /// <summary>
    /// Adds an Ollama server that runs elsewhere. It shows in the dashboard with its URL and health, and its
    /// models are pulled there like on any other server.
    /// </summary>
    /// <param name="builder">The application builder.</param>
    /// <param name="name">The resource name.</param>
    /// <param name="uri">The server's absolute http(s) base URL.</param>
    public static IResourceBuilder<ExternalOllamaResource> AddExternalOllama(this IDistributedApplicationBuilder builder, [ResourceName] string name, Uri uri)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(uri);
        if (!uri.IsAbsoluteUri || uri.Scheme is not ("http" or "https"))
        {
            throw new ArgumentException($"'{uri}' is not an absolute http(s) URL.", nameof(uri));
        }

        var resource = new ExternalOllamaResource(name, uri);
        var healthCheckKey = $"{name}_ollama_server_check";
        builder.Services.AddOllamaHttpClient();
        builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
            healthCheckKey,
            services => new OllamaServerHealthCheck(resource, services.GetRequiredService<IHttpClientFactory>()),
            failureStatus: null,
            tags: null,
            timeout: OllamaApi.ProbeTimeout));

        builder.Eventing.Subscribe<InitializeResourceEvent>(resource, async (e, cancellationToken) =>
        {
            // Nothing to start: the server already runs. Running lets health checks begin, and the first healthy
            // one raises ResourceReadyEvent, which starts the model pulls.
            await e.Eventing.PublishAsync(new BeforeResourceStartedEvent(resource, e.Services), cancellationToken);
            await e.Notifications.PublishUpdateAsync(resource, snapshot => snapshot with
            {
                State = KnownResourceStates.Running,
                StartTimeStamp = DateTime.UtcNow,
            });
        });

        return builder.AddResource(resource)
            .WithInitialState(new CustomResourceSnapshot
            {
                ResourceType = "ExternalOllama",
                State = KnownResourceStates.Waiting,
                Properties = [new(CustomResourceKnownProperties.Source, uri.AbsoluteUri)],
            })
            .WithUrl(uri.AbsoluteUri, "Ollama API")
            .WithIconName("BrainCircuit")
            .WithHealthCheck(healthCheckKey)
            .WithServerCommands()
            .ExcludeFromManifest();
    }

    /// <summary>
    /// Keeps Ollama's model store (<c>/root/.ollama</c>) in a named volume, so a 4.7 GB model is downloaded
    /// once, not on every container start.
    /// </summary>
    /// <param name="builder">The Ollama container.</param>
    /// <param name="name">The volume name; by default one derived from the AppHost and the resource.</param>
    public static IResourceBuilder<OllamaResource> WithDataVolume(this IResourceBuilder<OllamaResource> builder, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(builder);

        return builder.WithVolume(name ?? VolumeNameGenerator.Generate(builder, "data"), OllamaResource.DataPath);
    }

    /// <summary>
    /// Gives the container every NVIDIA GPU of the host (<c>--gpus all</c> on Docker, the CDI device
    /// <c>nvidia.com/gpu=all</c> on Podman). Needs the NVIDIA Container Toolkit on the host.
    /// </summary>
    /// <param name="builder">The Ollama container.</param>
    public static IResourceBuilder<OllamaResource> WithGpuSupport(this IResourceBuilder<OllamaResource> builder)
    {
        ArgumentNullException.ThrowIfNull(builder);

        return string.Equals(AspireContainerRuntime.Configured(builder.ApplicationBuilder.Configuration), "podman", StringComparison.OrdinalIgnoreCase)
            ? builder.WithContainerRuntimeArgs("--device", "nvidia.com/gpu=all")
            : builder.WithContainerRuntimeArgs("--gpus", "all");
    }

    private static IResourceBuilder<T> WithServerCommands<T>(this IResourceBuilder<T> builder) where T : IOllamaResource
    {
        builder.ApplicationBuilder.Services.AddOllamaHttpClient();
        return builder.WithCommand(
            name: "list-models",
            displayName: "List models",
            executeCommand: async context =>
            {
                using var ollama = await OllamaApi.ConnectAsync(builder.Resource, context.Services, context.CancellationToken);
                var models = (await ollama.ListLocalModelsAsync(context.CancellationToken)).ToList();
                var listing = models.Count == 0
                    ? "No models."
                    : string.Join(Environment.NewLine, models.Select(m => string.Create(CultureInfo.InvariantCulture,
                        $"{m.Name}  {m.Size / 1e9:0.0} GB  {m.ModifiedAt:yyyy-MM-dd HH:mm}")));
                context.Services.GetRequiredService<ResourceLoggerService>().GetLogger(builder.Resource)
                    .LogInformation("Models on this server:{NewLine}{Models}", Environment.NewLine, listing);
                return CommandResults.Success($"{models.Count} model(s)", listing);
            },
            commandOptions: new CommandOptions
            {
                Description = "List the models this Ollama server has.",
                IconName = "AppsList",
                UpdateState = context => context.ResourceSnapshot.State?.Text == KnownResourceStates.Running
                    ? ResourceCommandState.Enabled
                    : ResourceCommandState.Disabled,
            });
    }
}
