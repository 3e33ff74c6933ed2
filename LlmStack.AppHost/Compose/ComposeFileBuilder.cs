using System.Globalization;
using Aspire.Hosting.ApplicationModel;
using LlmStack.AppHost.Ollama;

namespace LlmStack.AppHost.Compose;

/// <summary>
/// Turns the app model into a compose file: one service per container, per project (per profile when the
/// project differs by profile) and per Ollama model (a one-shot pull job). Environment, arguments, endpoints,
/// volumes and waits come from the resources themselves; <see cref="ComposeServiceAnnotation"/> adds what only
/// Compose needs. A resource this cannot express stops the publish with the reason, so nothing in the app model
/// is silently missing from the deployment.
/// </summary>
internal sealed class ComposeFileBuilder(DistributedApplicationModel model, DistributedApplicationExecutionContext executionContext, string imageTag)
{
    /// <summary>The port every LlmStack image listens on (<c>ASPNETCORE_HTTP_PORTS</c> in its Dockerfile).</summary>
    public const int ProjectContainerPort = 8080;

    public ComposeVariables Variables { get; } = new();

    public static string ProjectImage(string resourceName, string tag) => $"llmstack-{resourceName}:{tag}";

    public static string PullJobName(OllamaModelResource model) => $"{model.Parent.Name}-pull";

    public static string VariantName(IResource resource, string profile) => $"{resource.Name}-{profile}";

    public async Task<ComposeFile> BuildAsync(CancellationToken cancellationToken)
    {
        var file = new ComposeFile();
        foreach (var resource in model.Resources)
        {
            switch (resource)
            {
                case ParameterResource:
                    // A parameter becomes an .env variable where a service uses it.
                    break;
                case OllamaModelResource ollamaModel:
                    Add(file, PullJobName(ollamaModel), PullJob(ollamaModel));
                    break;
                case ProjectResource project:
                    await AddProjectAsync(file, project, cancellationToken);
                    break;
                case ContainerResource container:
                    Add(file, container.Name, await ContainerServiceAsync(container, cancellationToken));
                    break;
                default:
                    throw new DistributedApplicationException(
                        $"The compose publisher cannot express the resource '{resource.Name}' ({resource.GetType().Name}): " +
                        "only containers, projects, Ollama models and parameters have a compose form. " +
                        "Exclude it from publishing or teach LlmStack.AppHost/Compose its compose form.");
            }
        }

        foreach (var volume in file.Services.Values.SelectMany(s => s.Volumes).Select(NamedVolume).OfType<string>())
        {
            file.Volumes.TryAdd(volume, new ComposeVolume());
        }
        return file;
    }

    private static void Add(ComposeFile file, string name, ComposeService service)
    {
        if (!file.Services.TryAdd(name, service))
        {
            throw new DistributedApplicationException($"Two resources become the compose service '{name}'; rename one of them.");
        }
    }

    private async Task<ComposeService> ContainerServiceAsync(ContainerResource container, CancellationToken cancellationToken)
    {
        if (!container.TryGetContainerImageName(out var image))
        {
            throw new DistributedApplicationException($"The container resource '{container.Name}' has no image.");
        }
        var service = new ComposeService { Image = StripDefaultRegistry(image) };
        if (container.Entrypoint is { Length: > 0 } entrypoint)
        {
            service.Entrypoint.Add(entrypoint);
        }
        foreach (var mount in container.Annotations.OfType<ContainerMountAnnotation>())
        {
            if (mount.Type != ContainerMountType.Volume)
            {
                // A bind mount names a path on this machine, which means nothing on the deployment host.
                throw new DistributedApplicationException(
                    $"The container resource '{container.Name}' bind-mounts {mount.Source}; a compose deployment has no such path. " +
                    "Use a named volume, or a path relative to the compose folder through a ComposeServiceAnnotation.");
            }
            service.Volumes.Add($"{mount.Source}:{mount.Target}{(mount.IsReadOnly ? ":ro" : "")}");
        }
        if (container.Annotations.OfType<ContainerRuntimeArgsCallbackAnnotation>().Any())
        {
            throw new DistributedApplicationException(
                $"The container resource '{container.Name}' has container runtime arguments, which Compose cannot express; " +
                "describe them with a ComposeServiceAnnotation (e.g. a GPU reservation) instead.");
        }
        await ApplyCommonAsync(service, container, ComposeHardening.Image(), cancellationToken);
        return service;
    }

    private async Task AddProjectAsync(ComposeFile file, ProjectResource project, CancellationToken cancellationToken)
    {
        var variants = project.Annotations.OfType<ComposeProfileVariantsAnnotation>().SelectMany(a => a.Variants).ToList();
        var replicas = Replicas(project);
        if (variants.Count == 0)
        {
            for (var replica = 1; replica <= replicas; replica++)
            {
                var service = await ProjectServiceAsync(project, cancellationToken);
                AddReplica(file, project, project.Name, service, replica, replicas);
            }
            return;
        }
        foreach (var variant in variants)
        {
            for (var replica = 1; replica <= replicas; replica++)
            {
                var service = await ProjectServiceAsync(project, cancellationToken);
                service.Profiles.Clear();
                service.Profiles.Add(variant.Profile);
                foreach (var (key, value) in variant.Environment)
                {
                    service.Environment[key] = await ValueAsync(value, cancellationToken);
                }
                foreach (var wait in variant.Waits)
                {
                    AddDependency(service, wait);
                }
                service.Entrypoint.AddRange(variant.Entrypoint);
                if (variant.Limits is not null)
                {
                    service.Deploy ??= new ComposeDeploy();
                    service.Deploy.Resources.Limits = variant.Limits;
                }
                foreach (var customize in variant.Customizations)
                {
                    customize(service, Variables);
                }
                // The variants of one profile-dependent service share its name on the network, so whoever calls
                // "http://api:8080" reaches the variant that runs.
                var network = new ComposeServiceNetwork();
                network.Aliases.Add(project.Name);
                service.Networks["default"] = network;
                AddReplica(file, project, VariantName(project, variant.Profile), service, replica, replicas);
            }
        }
    }

    /// <summary>The replicas a project runs (<c>WithReplicas</c>), each a compose service of its own.</summary>
    public static int Replicas(IResource resource) => resource.Annotations.OfType<ReplicaAnnotation>().LastOrDefault()?.Replicas ?? 1;

    /// <summary>
    /// The compose-network names of a project's replicas, in order: the project's name with one replica, else
    /// <c>&lt;name&gt;-1</c> ... <c>&lt;name&gt;-N</c>, which whoever balances between them (the Web, the proxy, Prometheus) lists.
    /// </summary>
    public static IReadOnlyList<string> ReplicaHosts(IResource resource)
    {
        var replicas = Replicas(resource);
        return replicas == 1 ? [resource.Name] : [.. Enumerable.Range(1, replicas).Select(replica => ReplicaHost(resource.Name, replica))];
    }

    private static string ReplicaHost(string name, int replica) => $"{name}-{replica}";

    /// <summary>
    /// One replica of a project as a service: with several, each is <c>&lt;service&gt;-&lt;n&gt;</c> and reachable as
    /// <c>&lt;name&gt;-&lt;n&gt;</c> (and as <c>&lt;name&gt;</c>, which Docker's DNS answers with all of them); a host port
    /// can be published once, so only the first replica keeps the published ports.
    /// </summary>
    private static void AddReplica(ComposeFile file, IResource project, string serviceName, ComposeService service, int replica, int replicas)
    {
        if (replicas == 1)
        {
            Add(file, serviceName, service);
            return;
        }
        if (!service.Networks.TryGetValue("default", out var network))
        {
            network = new ComposeServiceNetwork();
            network.Aliases.Add(project.Name);
            service.Networks["default"] = network;
        }
        network.Aliases.Add(ReplicaHost(project.Name, replica));
        if (replica > 1)
        {
            service.Ports.Clear();
        }
        Add(file, ReplicaHost(serviceName, replica), service);
    }

    private async Task<ComposeService> ProjectServiceAsync(ProjectResource project, CancellationToken cancellationToken)
    {
        var service = new ComposeService { Image = ProjectImage(project.Name, imageTag) };
        await ApplyCommonAsync(service, project, ComposeHardening.LlmStackImage(), cancellationToken);
        return service;
    }

    private ComposeService PullJob(OllamaModelResource ollamaModel)
    {
        if (ollamaModel.Parent is not ContainerResource server || !server.TryGetContainerImageName(out var image))
        {
            throw new DistributedApplicationException(
                $"The Ollama model '{ollamaModel.ModelName}' is served by '{ollamaModel.Parent.Name}', which is not a container; " +
                "a compose deployment can only pull models into the Ollama container.");
        }
        // The Ollama image's CLI pulls through the server's API, so the model lands in the server's volume.
        var service = new ComposeService
        {
            Image = StripDefaultRegistry(image),
            Restart = "no",
        };
        service.Command.AddRange(["pull", ollamaModel.ModelName]);
        service.Environment["OLLAMA_HOST"] = $"{server.Name}:{OllamaResource.DefaultPort}";
        service.DependsOn[server.Name] = new ComposeDependency(ComposeDependency.Healthy);
        var serverCompose = server.Annotations.OfType<ComposeServiceAnnotation>().LastOrDefault();
        if (serverCompose is not null)
        {
            service.Profiles.AddRange(serverCompose.Profiles);
        }
        // The same image, confined as the server is.
        (serverCompose?.Hardening ?? ComposeHardening.Image()).ApplyTo(service);
        return service;
    }

    /// <summary>
    /// Environment, arguments, ports, waits, confinement (the annotation's, else <paramref name="defaultHardening"/>) and
    /// the compose annotation: the same for containers and projects.
    /// </summary>
    private async Task ApplyCommonAsync(ComposeService service, IResource resource, ComposeHardening defaultHardening, CancellationToken cancellationToken)
    {
        if (resource is IResourceWithEnvironment)
        {
            var environment = new Dictionary<string, object>(StringComparer.Ordinal);
            var context = new EnvironmentCallbackContext(executionContext, resource, environment, cancellationToken);
            foreach (var callback in resource.Annotations.OfType<EnvironmentCallbackAnnotation>())
            {
                await callback.Callback(context);
            }
            foreach (var (key, value) in environment)
            {
                if (IsProjectHttpsEndpoint(value))
                {
                    // LlmStack's containers speak plain HTTP on the compose network; TLS ends at the reverse proxy
                    // in front of the host (docs/deploy-ec2.md), so there is no https endpoint to point at.
                    continue;
                }
                if (value is EndpointReference { Resource: ProjectResource target } endpoint && Replicas(target) > 1
                    && key.EndsWith("__0", StringComparison.Ordinal) && key.StartsWith("services__", StringComparison.Ordinal))
                {
                    // Service discovery with one entry per replica: the client balances between them, request by request.
                    var hosts = ReplicaHosts(target);
                    for (var i = 0; i < hosts.Count; i++)
                    {
                        service.Environment[$"{key[..^1]}{i}"] = $"{endpoint.Scheme}://{hosts[i]}:{TargetPort(target, endpoint.EndpointAnnotation)}";
                    }
                    continue;
                }
                service.Environment[key] = await ValueAsync(value, cancellationToken);
            }
        }

        if (resource is IResourceWithArgs)
        {
            var arguments = new List<object>();
            var context = new CommandLineArgsCallbackContext(arguments, resource, cancellationToken) { ExecutionContext = executionContext };
            foreach (var callback in resource.Annotations.OfType<CommandLineArgsCallbackAnnotation>())
            {
                await callback.Callback(context);
            }
            foreach (var argument in arguments)
            {
                service.Command.Add(await ValueAsync(argument, cancellationToken));
            }
        }

        foreach (var wait in resource.Annotations.OfType<WaitAnnotation>())
        {
            AddDependency(service, wait);
        }

        var compose = resource.Annotations.OfType<ComposeServiceAnnotation>().LastOrDefault() ?? new ComposeServiceAnnotation();
        service.Profiles.AddRange(compose.Profiles);
        service.Healthcheck = compose.Healthcheck;
        service.Restart = compose.Restart;
        (compose.Hardening ?? defaultHardening).ApplyTo(service);
        if (compose.Limits is not null)
        {
            service.Deploy ??= new ComposeDeploy();
            service.Deploy.Resources.Limits = compose.Limits;
        }
        foreach (var port in compose.PublishedPorts)
        {
            var endpoint = resource.Annotations.OfType<EndpointAnnotation>().SingleOrDefault(e => e.Name == port.EndpointName)
                ?? throw new DistributedApplicationException($"'{resource.Name}' has no endpoint '{port.EndpointName}' to publish.");
            service.Ports.Add($"{Variables.Use(port.BindVariable)}:{Variables.Use(port.PortVariable)}:{TargetPort(resource, endpoint)}");
        }
        foreach (var customize in compose.Customizations)
        {
            customize(service, Variables);
        }
    }

    private static bool IsProjectHttpsEndpoint(object value) => value switch
    {
        EndpointReference endpoint => endpoint.Resource is ProjectResource && endpoint.Scheme == "https",
        ReferenceExpression expression => expression.ValueProviders.Any(IsProjectHttpsEndpoint),
        _ => false,
    };

    private static void AddDependency(ComposeService service, WaitAnnotation wait)
    {
        if (wait.Resource.Annotations.OfType<ComposeProfileVariantsAnnotation>().Any())
        {
            // One service per profile: Compose refuses to start when a dependency's profile is inactive, so the
            // waiting service must tolerate the target's absence (the compose file's header says so).
            return;
        }
        var (name, condition) = wait.Resource switch
        {
            // Waiting for an Ollama model means waiting for its pull job to have finished.
            OllamaModelResource ollamaModel => (PullJobName(ollamaModel), ComposeDependency.CompletedSuccessfully),
            var target => (target.Name, wait.WaitType switch
            {
                WaitType.WaitUntilHealthy => ComposeDependency.Healthy,
                WaitType.WaitForCompletion => ComposeDependency.CompletedSuccessfully,
                _ => ComposeDependency.Started,
            }),
        };
        service.DependsOn[name] = new ComposeDependency(condition);
    }

    /// <summary>A value of the app model as Compose writes it: endpoints become service URLs, parameters variables.</summary>
    private async Task<string> ValueAsync(object value, CancellationToken cancellationToken)
    {
        switch (value)
        {
            case string text:
                // A literal '$' would be read by Compose as the start of a variable.
                return text.Replace("$", "$$", StringComparison.Ordinal);
            case EndpointReference endpoint:
                return Url(endpoint);
            case EndpointReferenceExpression expression:
                return expression.Property switch
                {
                    EndpointProperty.Url => Url(expression.Endpoint),
                    EndpointProperty.Host or EndpointProperty.IPV4Host => expression.Endpoint.Resource.Name,
                    EndpointProperty.Port or EndpointProperty.TargetPort => TargetPort(expression.Endpoint.Resource, expression.Endpoint.EndpointAnnotation).ToString(CultureInfo.InvariantCulture),
                    EndpointProperty.HostAndPort => $"{expression.Endpoint.Resource.Name}:{TargetPort(expression.Endpoint.Resource, expression.Endpoint.EndpointAnnotation)}",
                    EndpointProperty.Scheme => expression.Endpoint.Scheme,
                    _ => throw new DistributedApplicationException($"The compose publisher cannot express the endpoint property {expression.Property} of '{expression.Endpoint.Resource.Name}'."),
                };
            case ParameterResource parameter:
                return Variables.Use(ParameterVariable(parameter));
            case ConnectionStringReference reference:
                return await ValueAsync(reference.Resource.ConnectionStringExpression, cancellationToken);
            case ComposeVariable variable:
                return Variables.Use(variable);
            case ReferenceExpression { IsConditional: false } expression:
            {
                var parts = new object[expression.ValueProviders.Count];
                for (var i = 0; i < parts.Length; i++)
                {
                    parts[i] = await ValueAsync(expression.ValueProviders[i], cancellationToken);
                }
                return string.Format(CultureInfo.InvariantCulture, expression.Format, parts);
            }
            case ReferenceExpression { IsConditional: true, Condition: { } condition } conditional:
                // Decided at publish time, as Aspire's manifest does (e.g. Redis's ",ssl=true" only when its endpoint has TLS).
                return await ValueAsync(
                    string.Equals(await condition.GetValueAsync(cancellationToken), conditional.MatchValue, StringComparison.Ordinal)
                        ? conditional.WhenTrue! : conditional.WhenFalse!, cancellationToken);
            case IFormattable formattable:
                return formattable.ToString(null, CultureInfo.InvariantCulture);
            default:
                throw new DistributedApplicationException(
                    $"The compose publisher cannot express the value {value} ({value.GetType().Name}).");
        }
    }

    /// <summary>An app-model parameter as an .env variable: <c>llmstack-api-key</c> becomes <c>LLMSTACK_API_KEY</c>.</summary>
    public static ComposeVariable ParameterVariable(ParameterResource parameter) => new(
        parameter.Name.ToUpperInvariant().Replace('-', '_'),
        Default: null,
        Description: parameter.Description ?? $"The app model's parameter '{parameter.Name}'{(parameter.Secret ? " (a secret)" : "")}.",
        Group: "Parameters of the app model");

    private static string Url(EndpointReference endpoint) =>
        $"{endpoint.Scheme}://{endpoint.Resource.Name}:{TargetPort(endpoint.Resource, endpoint.EndpointAnnotation)}";

    private static int TargetPort(IResource resource, EndpointAnnotation endpoint) => resource switch
    {
        ProjectResource => ProjectContainerPort,
        _ => endpoint.TargetPort ?? throw new DistributedApplicationException(
            $"The endpoint '{endpoint.Name}' of '{resource.Name}' has no target port; Compose needs the port the container listens on."),
    };

    private static string? NamedVolume(string mount)
    {
        var source = mount.Split(':')[0];
        return source.StartsWith('.') || source.StartsWith('/') || source.StartsWith('$') ? null : source;
    }

    // Compose and Docker pull from Docker Hub by default; "docker.io/ollama/ollama" and "ollama/ollama" are one image, and
    // "docker.io/library/redis" is the official "redis".
    private static string StripDefaultRegistry(string image)
    {
        var name = image.StartsWith("docker.io/", StringComparison.Ordinal) ? image["docker.io/".Length..] : image;
        return name.StartsWith("library/", StringComparison.Ordinal) ? name["library/".Length..] : name;
    }
}
