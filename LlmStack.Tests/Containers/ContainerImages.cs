extern alias apphost;

using apphost::LlmStack.AppHost.Hosting;
using LlmStack.Tests.Fixtures;

namespace LlmStack.Tests.Containers;

/// <summary>
/// The images the container tests run, made once per test run without any registry: LlmStack's own through
/// deploy/docker/build-images.sh (as a user builds them), and stand-ins for third-party images under the names
/// the compose file uses when those cannot be pulled.
/// </summary>
public static class ContainerImages
{
    /// <summary>A cold build includes debootstrap of the base image and two self-contained publishes.</summary>
    private static readonly TimeSpan BuildTimeout = TimeSpan.FromMinutes(20);

    private static readonly Lazy<Task> LlmStack = new(() => DockerEngine.CheckedAsync(
        Repository.PathOf("deploy/docker/build-images.sh"), [], BuildTimeout));

    private static readonly Lazy<Task> Prometheus = new(() => PresentOrStandInAsync(
        $"{MonitoringImages.Prometheus}:{MonitoringImages.PrometheusTag}", Repository.PathOf("LlmStack.Tests/Containers/StandIns/prometheus.Dockerfile")));

    private static readonly Lazy<Task> OllamaStandIn = new(BuildOllamaStandInAsync);

    private static readonly Lazy<Task> Base = new(() => DockerEngine.CheckedAsync(
        Repository.PathOf("deploy/docker/base-images.sh"), [], BuildTimeout));

    /// <summary>The image standing in for ollama/ollama in the AppHost's container mode (a name no registry has).</summary>
    public const string OllamaStandInImage = "llmstack-test/ollama-standin";
    public const string OllamaStandInTag = "1";

    /// <summary>llmstack-api and llmstack-web, tagged with the version.</summary>
    public static Task LlmStackAsync() => LlmStack.Value;

    /// <summary>The Prometheus image the compose file names: pulled, or Debian's Prometheus under that name.</summary>
    public static async Task PrometheusAsync()
    {
        await Base.Value; // the stand-in builds FROM the same base image
        await Prometheus.Value;
    }

    /// <summary>The Ollama-protocol test server, published like LlmStack's own apps and built with the same Dockerfile.</summary>
    public static async Task OllamaStandInAsync()
    {
        await Base.Value;
        await OllamaStandIn.Value;
    }

    private static async Task BuildOllamaStandInAsync()
    {
        var context = Path.Combine(Repository.Root, "artifacts", "docker", "ollama-standin");
        if (Directory.Exists(context))
        {
            Directory.Delete(context, recursive: true);
        }
        await DockerEngine.CheckedAsync("dotnet",
            ["publish", Repository.PathOf("LlmStack.Tests/Containers/StandIns/OllamaStandIn/OllamaStandIn.csproj"), "-c", "Release",
             "-r", "linux-x64", "--self-contained", "-p:DebugType=none", "-o", Path.Combine(context, "app"), "-nologo", "-v", "quiet"], BuildTimeout);
        File.Copy(Repository.PathOf("deploy/docker/llmstack-probe"), Path.Combine(context, "llmstack-probe"));
        await DockerEngine.CheckedAsync("docker",
            ["build", "-q", "--build-arg", "APP=ollama-standin", "-t", $"{OllamaStandInImage}:{OllamaStandInTag}",
             "-f", Repository.PathOf("deploy/docker/Dockerfile"), context], BuildTimeout);
    }

    /// <summary>Uses <paramref name="image"/> when present or pullable; otherwise builds the stand-in under its name.</summary>
    public static async Task PresentOrStandInAsync(string image, string standInDockerfile, string? context = null)
    {
        if ((await DockerEngine.DockerAsync(TimeSpan.FromSeconds(30), "image", "inspect", image)).ExitCode == 0
            || (await DockerEngine.DockerAsync(TimeSpan.FromSeconds(90), "pull", "-q", image)).ExitCode == 0)
        {
            return;
        }
        var directory = context ?? Path.GetDirectoryName(standInDockerfile)!;
        await DockerEngine.CheckedAsync("docker", ["build", "-q", "-t", image, "-f", standInDockerfile, directory], BuildTimeout);
    }
}
