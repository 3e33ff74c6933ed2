namespace LlmStack.AppHost.Compose;

/// <summary>
/// What a resource's compose service needs beyond what the app model already says (image, environment,
/// arguments, endpoints, volumes, waits): the profiles it belongs to, how Docker checks its health, its restart
/// policy, its limits and the host ports it publishes.
/// </summary>
internal sealed class ComposeServiceAnnotation : IResourceAnnotation
{
    /// <summary>The profiles the service runs in; empty means every profile.</summary>
    public List<string> Profiles { get; } = [];

    public ComposeHealthcheck? Healthcheck { get; set; }

    /// <summary>Compose's restart policy; long-running services come back after a crash or a reboot.</summary>
    public string Restart { get; set; } = "unless-stopped";

    public ComposeResourceLimits? Limits { get; set; }

    /// <summary>Host ports the service publishes, each overridable in <c>.env</c>.</summary>
    public List<ComposePublishedPort> PublishedPorts { get; } = [];

    /// <summary>The last word on the service, for what no other member says (e.g. a GPU reservation).</summary>
    public List<Action<ComposeService, ComposeVariables>> Customizations { get; } = [];
}

/// <summary>A host port for one of the resource's endpoints: <c>${Bind}:${Port:-Default}:&lt;container port&gt;</c>.</summary>
/// <param name="EndpointName">The app model's endpoint.</param>
/// <param name="PortVariable">The <c>.env</c> variable that overrides the host port.</param>
/// <param name="DefaultPort">The host port when the variable is not set.</param>
/// <param name="BindVariable">The <c>.env</c> variable holding the host address to bind.</param>
internal sealed record ComposePublishedPort(string EndpointName, ComposeVariable PortVariable, int DefaultPort, ComposeVariable BindVariable);

/// <summary>
/// A service that exists once per deployment profile, because what it is connected to differs per profile (the
/// API: an Ollama backend in <c>cpu</c>, vLLM's OpenAI server in <c>gpu</c>, a GGUF file in <c>embedded</c>).
/// Each variant is the service <c>&lt;name&gt;-&lt;profile&gt;</c>, reachable on the network as <c>&lt;name&gt;</c>.
/// </summary>
internal sealed class ComposeProfileVariantsAnnotation : IResourceAnnotation
{
    public List<ComposeProfileVariant> Variants { get; } = [];
}

/// <summary>One profile's variant of a service: the environment it adds, what it waits for, its limits.</summary>
internal sealed class ComposeProfileVariant(string profile)
{
    public string Profile { get; } = profile;

    /// <summary>
    /// Values as the app model holds them (strings, endpoint references, reference expressions, parameters), or a
    /// <see cref="ComposeVariable"/> the user sets in <c>.env</c>.
    /// </summary>
    public Dictionary<string, object> Environment { get; } = new(StringComparer.Ordinal);

    public List<WaitAnnotation> Waits { get; } = [];

    /// <summary>Replaces the image's entrypoint when not empty (Compose escaping: <c>$$</c> for a literal <c>$</c>).</summary>
    public List<string> Entrypoint { get; } = [];

    public ComposeResourceLimits? Limits { get; set; }

    /// <summary>The last word on the variant's service (e.g. a volume whose source is an <c>.env</c> setting).</summary>
    public List<Action<ComposeService, ComposeVariables>> Customizations { get; } = [];
}
