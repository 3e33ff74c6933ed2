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

    /// <summary>llmstack-api and llmstack-web, tagged with the version.</summary>
    public static Task LlmStackAsync() => LlmStack.Value;

    /// <summary>The Prometheus image the compose file names: pulled, or Debian's Prometheus under that name.</summary>
    public static async Task PrometheusAsync()
    {
        await LlmStackAsync(); // the stand-in builds FROM the same base image
        await Prometheus.Value;
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
