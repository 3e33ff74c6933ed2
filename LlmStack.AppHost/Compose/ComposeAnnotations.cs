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

    /// <summary>
    /// How far the container is confined beyond what every service gets (no capabilities, no privilege gain); null:
    /// <see cref="ComposeHardening.LlmStackImage"/> for LlmStack's own images, <see cref="ComposeHardening.Image"/> otherwise.
    /// </summary>
    public ComposeHardening? Hardening { get; set; }

    /// <summary>The last word on the service, for what no other member says (e.g. a GPU reservation).</summary>
    public List<Action<ComposeService, ComposeVariables>> Customizations { get; } = [];
}

/// <summary>
/// The confinement of one service. Every service runs with no Linux capability (<c>cap_drop: [ALL]</c>) except those
/// named here, and with <c>no-new-privileges</c> (no setuid binary or file capability raises them again); the rest
/// depends on the image: which user it runs as, and whether its root filesystem can be read-only.
/// </summary>
internal sealed class ComposeHardening
{
    /// <summary>The uid of <c>app</c> in LlmStack's images (as in .NET's official images); its group has the same id.</summary>
    public const string LlmStackUser = "1654:1654";

    /// <summary>Every container: nothing but the image's own user and filesystem.</summary>
    public static ComposeHardening Image() => new();

    /// <summary>
    /// LlmStack's API and Web: the image's non-root <c>app</c>, a read-only root, <c>/tmp</c> in memory (.NET's
    /// diagnostics socket, the API's demo model). What they keep lives on volumes (the Web's <c>/home/app/data</c>).
    /// </summary>
    public static ComposeHardening LlmStackImage() => new() { User = LlmStackUser, ReadOnlyRootFilesystem = true, Tmpfs = { "/tmp" } };

    /// <summary><c>uid[:gid]</c>, written explicitly so that <c>docker inspect</c> and a reviewer see it; null: the image's.</summary>
    public string? User { get; init; }

    public bool ReadOnlyRootFilesystem { get; init; }

    public List<string> Tmpfs { get; } = [];

    /// <summary>The capabilities given back after all are dropped (e.g. <c>NET_BIND_SERVICE</c> for ports below 1024).</summary>
    public List<string> Capabilities { get; } = [];

    /// <summary>Writes the confinement onto <paramref name="service"/>.</summary>
    public void ApplyTo(ComposeService service)
    {
        service.User = User;
        service.ReadOnly = ReadOnlyRootFilesystem ? true : null;
        service.Tmpfs.AddRange(Tmpfs);
        service.CapDrop.Add("ALL");
        service.CapAdd.AddRange(Capabilities);
        service.SecurityOpt.Add("no-new-privileges:true");
    }
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
