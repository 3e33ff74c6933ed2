namespace LlmStack.AppHost.Hosting;

/// <summary>Whether the container runtime has an image or can get it, and the runtime's own words when it cannot.</summary>
internal sealed record ContainerImageAnswer(bool Available, string Detail);

/// <summary>
/// Asks the runtime for an image before a container is added: a container whose image cannot be pulled (offline,
/// a registry outage, a proxy) is not failed by Aspire - it waits, and everything that waits for it waits too.
/// </summary>
internal static class ContainerImageProbe
{
    /// <summary>
    /// How long a pull may run here. A registry that refuses, or a host that does not resolve, answers at once; a
    /// pull still running after this is downloading layers, so the image can be had (the container's start finishes
    /// the download, keeping the layers already fetched).
    /// </summary>
    public static readonly TimeSpan PullTimeout = TimeSpan.FromSeconds(15);

    public static async Task<ContainerImageAnswer> FindAsync(string runtime, string image, TimeSpan pullTimeout)
    {
        var inspect = await ContainerRuntimeProbe.RunAsync(runtime, ["image", "inspect", "--format", "{{.Id}}", image], TimeSpan.FromSeconds(10));
        if (inspect.ExitCode == 0)
        {
            return new ContainerImageAnswer(true, $"{image} is present");
        }

        var pull = await ContainerRuntimeProbe.RunAsync(runtime, ["pull", "-q", image], pullTimeout);
        return pull switch
        {
            { ExitCode: 0 } => new ContainerImageAnswer(true, $"pulled {image}"),
            { TimedOut: true } => new ContainerImageAnswer(true, $"{image} is downloading (the registry answers)"),
            _ => new ContainerImageAnswer(false, $"{runtime} cannot get {image}: {pull.FirstErrorLine}"),
        };
    }
}
