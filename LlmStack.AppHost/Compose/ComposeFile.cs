using YamlDotNet.Serialization;

namespace LlmStack.AppHost.Compose;

// The subset of the Compose specification LlmStack writes. Every shape here is understood by both
// docker-compose 1.29 (Debian's) and Compose v2 (`docker compose`); keys are in Compose's own spelling.

/// <summary>A <c>docker-compose.yaml</c>: services and the named volumes they share.</summary>
internal sealed class ComposeFile
{
    [YamlMember(Alias = "services")]
    public SortedDictionary<string, ComposeService> Services { get; } = new(StringComparer.Ordinal);

    [YamlMember(Alias = "volumes")]
    public SortedDictionary<string, ComposeVolume> Volumes { get; } = new(StringComparer.Ordinal);
}

/// <summary>One service. Null and empty members are left out of the file.</summary>
internal sealed class ComposeService
{
    [YamlMember(Alias = "image")]
    public string? Image { get; set; }

    [YamlMember(Alias = "profiles")]
    public List<string> Profiles { get; } = [];

    [YamlMember(Alias = "entrypoint")]
    public List<string> Entrypoint { get; } = [];

    [YamlMember(Alias = "command")]
    public List<string> Command { get; } = [];

    [YamlMember(Alias = "environment")]
    public SortedDictionary<string, string> Environment { get; } = new(StringComparer.Ordinal);

    [YamlMember(Alias = "ports")]
    public List<string> Ports { get; } = [];

    [YamlMember(Alias = "volumes")]
    public List<string> Volumes { get; } = [];

    [YamlMember(Alias = "depends_on")]
    public SortedDictionary<string, ComposeDependency> DependsOn { get; } = new(StringComparer.Ordinal);

    [YamlMember(Alias = "healthcheck")]
    public ComposeHealthcheck? Healthcheck { get; set; }

    [YamlMember(Alias = "restart")]
    public string? Restart { get; set; }

    [YamlMember(Alias = "networks")]
    public SortedDictionary<string, ComposeServiceNetwork> Networks { get; } = new(StringComparer.Ordinal);

    [YamlMember(Alias = "deploy")]
    public ComposeDeploy? Deploy { get; set; }

    /// <summary><c>uid[:gid]</c> the process runs as; null keeps the image's own user.</summary>
    [YamlMember(Alias = "user")]
    public string? User { get; set; }

    /// <summary>A read-only root filesystem: the container writes only to its volumes and <see cref="Tmpfs"/>.</summary>
    [YamlMember(Alias = "read_only")]
    public bool? ReadOnly { get; set; }

    [YamlMember(Alias = "cap_drop")]
    public List<string> CapDrop { get; } = [];

    [YamlMember(Alias = "cap_add")]
    public List<string> CapAdd { get; } = [];

    [YamlMember(Alias = "security_opt")]
    public List<string> SecurityOpt { get; } = [];

    /// <summary>In-memory writable folders (e.g. <c>/tmp</c>) of a read-only container.</summary>
    [YamlMember(Alias = "tmpfs")]
    public List<string> Tmpfs { get; } = [];

    /// <summary>The size of <c>/dev/shm</c>, e.g. <c>8g</c> (Docker's default is 64 MB).</summary>
    [YamlMember(Alias = "shm_size")]
    public string? ShmSize { get; set; }
}

internal sealed record ComposeDependency([property: YamlMember(Alias = "condition")] string Condition)
{
    public const string Started = "service_started";
    public const string Healthy = "service_healthy";
    public const string CompletedSuccessfully = "service_completed_successfully";
}

internal sealed class ComposeHealthcheck
{
    /// <summary>A health check running <paramref name="test"/> (exec form) every <paramref name="interval"/>, 5 retries.</summary>
    public static ComposeHealthcheck Command(List<string> test, string interval = "10s", string startPeriod = "20s") => new()
    {
        Test = test,
        Interval = interval,
        Timeout = "5s",
        Retries = 5,
        StartPeriod = startPeriod,
    };

    [YamlMember(Alias = "test")]
    public List<string> Test { get; init; } = [];

    [YamlMember(Alias = "interval")]
    public string? Interval { get; init; }

    [YamlMember(Alias = "timeout")]
    public string? Timeout { get; init; }

    [YamlMember(Alias = "retries")]
    public int? Retries { get; init; }

    [YamlMember(Alias = "start_period")]
    public string? StartPeriod { get; init; }
}

internal sealed class ComposeServiceNetwork
{
    [YamlMember(Alias = "aliases")]
    public List<string> Aliases { get; } = [];
}

internal sealed class ComposeDeploy
{
    [YamlMember(Alias = "resources")]
    public ComposeResources Resources { get; } = new();
}

internal sealed class ComposeResources
{
    [YamlMember(Alias = "limits")]
    public ComposeResourceLimits? Limits { get; set; }

    [YamlMember(Alias = "reservations")]
    public ComposeReservations? Reservations { get; set; }
}

internal sealed class ComposeResourceLimits
{
    /// <summary>CPUs as Compose writes them, e.g. "2.0".</summary>
    [YamlMember(Alias = "cpus")]
    public string? Cpus { get; init; }

    /// <summary>Memory with a unit, e.g. "1g".</summary>
    [YamlMember(Alias = "memory")]
    public string? Memory { get; init; }
}

internal sealed class ComposeReservations
{
    [YamlMember(Alias = "devices")]
    public List<ComposeDeviceRequest> Devices { get; } = [];
}

internal sealed class ComposeDeviceRequest
{
    [YamlMember(Alias = "driver")]
    public required string Driver { get; init; }

    /// <summary>"all" or a number, as Compose takes it.</summary>
    [YamlMember(Alias = "count")]
    public required string Count { get; init; }

    [YamlMember(Alias = "capabilities")]
    public required List<string> Capabilities { get; init; }
}

/// <summary>A named volume with Compose's defaults (written as <c>{}</c>; Compose prefixes it with the project name).</summary>
internal sealed class ComposeVolume;
