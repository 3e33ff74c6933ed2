using System.ComponentModel;
using System.Diagnostics;
using System.Text;

namespace LlmStack.Tests.Containers;

/// <summary>What a command printed and how it ended.</summary>
public sealed record CommandResult(int ExitCode, string Output, string Error)
{
    public string Describe(string command) =>
        $"{command} exited with {ExitCode}:{Environment.NewLine}{Error.Trim()}{Environment.NewLine}{Output.Trim()}".TrimEnd();
}

/// <summary>
/// The Docker engine of this machine, through its command-line clients (<c>docker</c>, <c>docker-compose</c>),
/// the way a user drives it. Every command has a bound: a hung engine fails a test, it does not hang it.
/// </summary>
public static class DockerEngine
{
    private static readonly Lazy<Task<string?>> Unavailable = new(FindUnavailableReasonAsync);

    /// <summary>Null when an engine answers and docker-compose is installed; else why the container tests cannot run.</summary>
    public static Task<string?> UnavailableReasonAsync() => Unavailable.Value;

    public static Task<CommandResult> DockerAsync(TimeSpan timeout, params string[] arguments) => RunAsync("docker", arguments, timeout);

    /// <summary>Runs a command; a non-zero exit throws with everything the command said.</summary>
    public static async Task<string> CheckedAsync(string command, IEnumerable<string> arguments, TimeSpan timeout,
        string? workingDirectory = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        var list = arguments.ToList();
        var result = await RunAsync(command, list, timeout, workingDirectory, environment);
        return result.ExitCode == 0
            ? result.Output
            : throw new InvalidOperationException(result.Describe($"{command} {string.Join(' ', list)}"));
    }

    public static async Task<CommandResult> RunAsync(string command, IEnumerable<string> arguments, TimeSpan timeout,
        string? workingDirectory = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(command)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? "",
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        using var process = Process.Start(start) ?? throw new Win32Exception($"{command} did not start");
        var output = new StringBuilder();
        var error = new StringBuilder();
        var outputDone = CopyAsync(process.StandardOutput, output);
        var errorDone = CopyAsync(process.StandardError, error);
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException(
                $"{command} {string.Join(' ', start.ArgumentList)} did not finish within {timeout.TotalSeconds:0} s.{Environment.NewLine}{error}{output}");
        }
        await Task.WhenAll(outputDone, errorDone);
        return new CommandResult(process.ExitCode, output.ToString(), error.ToString());
    }

    private static async Task CopyAsync(StreamReader reader, StringBuilder into)
    {
        while (await reader.ReadLineAsync() is { } line)
        {
            lock (into)
            {
                into.AppendLine(line);
            }
        }
    }

    private static async Task<string?> FindUnavailableReasonAsync()
    {
        try
        {
            var info = await DockerAsync(TimeSpan.FromSeconds(20), "info", "--format", "{{.ServerVersion}}");
            if (info.ExitCode != 0)
            {
                return $"no Docker engine answers (docker info: {FirstLine(info.Error)}); ./test.sh starts Debian's engine when it runs as root";
            }
            var compose = await RunAsync("docker-compose", ["version", "--short"], TimeSpan.FromSeconds(20));
            return compose.ExitCode == 0 ? null : $"docker-compose does not run ({FirstLine(compose.Error)})";
        }
        catch (Win32Exception e)
        {
            return $"the Docker command-line tools are not installed ({e.Message}); ./test.sh installs Debian's docker.io and docker-compose when it runs as root";
        }
    }

    private static string FirstLine(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? "no output";
}
