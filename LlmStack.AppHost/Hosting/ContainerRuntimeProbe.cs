using System.ComponentModel;
using System.Diagnostics;

namespace LlmStack.AppHost.Hosting;

/// <summary>What asking the container runtimes found: the one that answered, or why none did.</summary>
internal sealed record ContainerRuntimeAnswer(string? Runtime, string Detail);

/// <summary>
/// Asks <c>docker info</c> and <c>podman info</c> whether a container engine answers. This must happen before a
/// container is added: with no engine, Aspire does not fail a container, it waits for it forever.
/// </summary>
internal static class ContainerRuntimeProbe
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(4);

    private static readonly Dictionary<string, string[]> InfoArguments = new(StringComparer.OrdinalIgnoreCase)
    {
        ["docker"] = ["info", "--format", "{{.ServerVersion}}"],
        ["podman"] = ["info", "--format", "{{.Version.Version}}"],
    };

    /// <summary>
    /// Asks <paramref name="configuredRuntime"/> (Aspire's <c>ASPIRE_CONTAINER_RUNTIME</c>) when set, else docker
    /// and podman at once, preferring docker.
    /// </summary>
    public static async Task<ContainerRuntimeAnswer> FindAsync(string? configuredRuntime, TimeSpan timeout)
    {
        string[] runtimes = string.IsNullOrWhiteSpace(configuredRuntime) ? ["docker", "podman"] : [configuredRuntime.Trim()];
        var answers = await Task.WhenAll(runtimes.Select(runtime => AskAsync(runtime, timeout)));
        return answers.FirstOrDefault(a => a.Runtime is not null)
            ?? new ContainerRuntimeAnswer(null, string.Join("; ", answers.Select(a => a.Detail)));
    }

    private static async Task<ContainerRuntimeAnswer> AskAsync(string runtime, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(runtime)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in InfoArguments.GetValueOrDefault(runtime, ["info"]))
        {
            start.ArgumentList.Add(argument);
        }

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new Win32Exception();
        }
        catch (Win32Exception)
        {
            return new ContainerRuntimeAnswer(null, $"{runtime}: not installed");
        }

        using (process)
        {
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            using var deadline = new CancellationTokenSource(timeout);
            try
            {
                await process.WaitForExitAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                return new ContainerRuntimeAnswer(null, $"{runtime}: no answer within {timeout.TotalSeconds:0} s");
            }

            var version = (await output).Trim();
            if (process.ExitCode == 0 && version.Length > 0)
            {
                return new ContainerRuntimeAnswer(runtime, $"{runtime} {version}");
            }
            var reason = (await error).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault();
            return new ContainerRuntimeAnswer(null, $"{runtime}: {reason ?? $"exit code {process.ExitCode}"}");
        }
    }
}
