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
        var answer = await RunAsync(runtime, InfoArguments.GetValueOrDefault(runtime, ["info"]), timeout);
        return answer switch
        {
            { NotInstalled: true } => new ContainerRuntimeAnswer(null, $"{runtime}: not installed"),
            { TimedOut: true } => new ContainerRuntimeAnswer(null, $"{runtime}: no answer within {timeout.TotalSeconds:0} s"),
            { ExitCode: 0 } when answer.Output.Trim().Length > 0 => new ContainerRuntimeAnswer(runtime, $"{runtime} {answer.Output.Trim()}"),
            _ => new ContainerRuntimeAnswer(null, $"{runtime}: {answer.FirstErrorLine}"),
        };
    }

    /// <summary>Runs a runtime's command line with a bound; the process is killed when the bound runs out.</summary>
    public static async Task<CommandAnswer> RunAsync(string command, IEnumerable<string> arguments, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(command)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
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
            return new CommandAnswer(null, "", "", NotInstalled: true);
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
                return new CommandAnswer(null, "", "", TimedOut: true);
            }
            return new CommandAnswer(process.ExitCode, await output, await error);
        }
    }
}

/// <summary>How a bounded command ended: its exit code and output, or that it was not installed or timed out.</summary>
internal sealed record CommandAnswer(int? ExitCode, string Output, string Error, bool NotInstalled = false, bool TimedOut = false)
{
    public string FirstErrorLine =>
        Error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault()
        ?? $"exit code {ExitCode}";
}
