extern alias apphost;

using apphost::LlmStack.AppHost.Hosting;
using LlmStack.Tests.Fixtures;

namespace LlmStack.Tests.Containers;

/// <summary>
/// The images the container tests run, made once per test run without any registry: LlmStack's own through
/// deploy/docker/build-images.sh (as a user builds them), and stand-ins for third-party images under project names
/// (llmstack-test/...), never an official image's name and tag - a later real <c>compose up</c> on the same host must
/// get the real image. The tests point the compose project at them through an override file (<see cref="ComposeOverride"/>).
/// </summary>
public static class ContainerImages
{
    /// <summary>A cold build includes debootstrap of the base image and two self-contained publishes.</summary>
    private static readonly TimeSpan BuildTimeout = TimeSpan.FromMinutes(20);

    private static readonly Lazy<Task> LlmStack = new(() => DockerEngine.CheckedAsync(
        Repository.PathOf("deploy/docker/build-images.sh"), [], BuildTimeout));

    /// <summary>The Debian 12 image the Dockerfiles build FROM: the official one when present, else a local debootstrap.</summary>
    private static readonly Lazy<Task<string>> Base = new(async () => (await DockerEngine.CheckedAsync(
        Repository.PathOf("deploy/docker/base-images.sh"), [], BuildTimeout)).Trim());

    private static readonly Lazy<Task> Prometheus = new(() => StandInAsync(PrometheusStandIn, "prometheus.Dockerfile"));

    private static readonly Lazy<Task> Caddy = new(() => StandInAsync(CaddyStandIn, "caddy.Dockerfile"));

    private static readonly Lazy<Task> OllamaStandIn = new(BuildOllamaStandInAsync);

    private static readonly Lazy<Task> Redis = new(() => StandInAsync(RedisStandIn, "redis.Dockerfile"));

    /// <summary>Debian's Prometheus, standing in for prom/prometheus.</summary>
    public const string PrometheusStandIn = "llmstack-test/prometheus:debian";

    /// <summary>Debian's Caddy, standing in for caddy (the compose stack's proxy profile).</summary>
    public const string CaddyStandIn = "llmstack-test/caddy:debian";

    /// <summary>Debian's redis-server, standing in for the official redis image (the compose replica variant's Redis).</summary>
    public const string RedisStandIn = "llmstack-test/redis:debian";

    /// <summary>The image standing in for ollama/ollama, in the AppHost's container mode and compose's cpu profile (a name no registry has).</summary>
    public const string OllamaStandInImage = "llmstack-test/ollama-standin";
    public const string OllamaStandInTag = "2";

    /// <summary>llmstack-api and llmstack-web, tagged with the version.</summary>
    public static Task LlmStackAsync() => LlmStack.Value;

    /// <summary>Debian's Prometheus under <see cref="PrometheusStandIn"/>.</summary>
    public static Task PrometheusAsync() => Prometheus.Value;

    /// <summary>The base image's name (made on first use).</summary>
    public static Task<string> BaseAsync() => Base.Value;

    /// <summary>Debian's Caddy under <see cref="CaddyStandIn"/>.</summary>
    public static Task CaddyAsync() => Caddy.Value;

    /// <summary>Debian's redis-server under <see cref="RedisStandIn"/>.</summary>
    public static Task RedisAsync() => Redis.Value;

    /// <summary>The Ollama-protocol test server with the <c>ollama</c> command of Ollama's image (StandIns/ollama.Dockerfile).</summary>
    public static Task OllamaStandInAsync() => OllamaStandIn.Value;

    /// <summary>
    /// A compose override file (<c>docker-compose.yaml</c> stays as published) that runs each service of
    /// <paramref name="images"/> from its stand-in, e.g. <c>prometheus</c> from <see cref="PrometheusStandIn"/>, and gives
    /// the services of <paramref name="environment"/> more environment variables and those of <paramref name="ports"/> more
    /// published ports (<c>host:container</c> mappings, added to the published ones).
    /// </summary>
    public static string ComposeOverride(IReadOnlyDictionary<string, string> images,
        IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>>? environment = null,
        IReadOnlyDictionary<string, IReadOnlyList<string>>? ports = null)
    {
        var text = new System.Text.StringBuilder("# Written by the container tests: stand-ins for images no registry serves here.\nservices:\n");
        environment ??= new Dictionary<string, IReadOnlyDictionary<string, string>>();
        ports ??= new Dictionary<string, IReadOnlyList<string>>();
        foreach (var service in images.Keys.Union(environment.Keys).Union(ports.Keys))
        {
            text.Append("  ").Append(service).Append(":\n");
            if (images.TryGetValue(service, out var image))
            {
                text.Append("    image: ").Append(image).Append('\n');
            }
            if (ports.TryGetValue(service, out var mappings))
            {
                text.Append("    ports:\n");
                foreach (var mapping in mappings)
                {
                    text.Append("      - \"").Append(mapping).Append("\"\n");
                }
            }
            if (environment.TryGetValue(service, out var variables))
            {
                text.Append("    environment:\n");
                foreach (var (name, value) in variables)
                {
                    text.Append("      ").Append(name).Append(": \"").Append(value).Append("\"\n");
                }
            }
        }
        return text.ToString();
    }

    private static async Task BuildOllamaStandInAsync()
    {
        var baseImage = await BaseAsync();
        var context = Path.Combine(Repository.Root, "artifacts", "docker", "ollama-standin");
        if (Directory.Exists(context))
        {
            Directory.Delete(context, recursive: true);
        }
        await DockerEngine.CheckedAsync("dotnet",
            ["publish", Repository.PathOf("LlmStack.Tests/Containers/StandIns/OllamaStandIn/OllamaStandIn.csproj"), "-c", "Release",
             "-r", "linux-x64", "--self-contained", "-p:DebugType=none", "-o", Path.Combine(context, "app"), "-nologo", "-v", "quiet"], BuildTimeout);
        await DockerEngine.CheckedAsync("docker",
            ["build", "-q", "--build-arg", $"BASE_IMAGE={baseImage}", "-t", $"{OllamaStandInImage}:{OllamaStandInTag}",
             "-f", Repository.PathOf("LlmStack.Tests/Containers/StandIns/ollama.Dockerfile"), context], BuildTimeout);
    }

    /// <summary>Builds a stand-in from its Dockerfile in StandIns/, FROM the base image.</summary>
    private static async Task StandInAsync(string image, string dockerfile)
    {
        var baseImage = await BaseAsync();
        var directory = Repository.PathOf("LlmStack.Tests/Containers/StandIns");
        await DockerEngine.CheckedAsync("docker",
            ["build", "-q", "--build-arg", $"BASE_IMAGE={baseImage}", "-t", image, "-f", Path.Combine(directory, dockerfile), directory], BuildTimeout);
    }
}
