extern alias apphost;

using System.Diagnostics;
using apphost::LlmStack.AppHost.Hosting;

namespace LlmStack.Tests.AppModel;

/// <summary>
/// Asking a container runtime whether it answers, with stand-in runtimes (shell scripts): the answer must come
/// within the timeout whatever the runtime does, because a wrong "yes" hangs the AppHost.
/// </summary>
public sealed class ContainerRuntimeProbeTests : IDisposable
{
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(2);
    private readonly string _directory = Directory.CreateTempSubdirectory("llmstack-runtime-").FullName;

    [Fact]
    public async Task A_runtime_that_reports_its_server_version_answers()
    {
        var runtime = Script("echo 28.0.1");

        var answer = await ContainerRuntimeProbe.FindAsync(runtime, ProbeTimeout).WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);

        Assert.Equal(runtime, answer.Runtime);
        Assert.Equal($"{runtime} 28.0.1", answer.Detail);
    }

    [Fact]
    public async Task A_runtime_whose_daemon_is_down_does_not_answer_and_says_why()
    {
        var runtime = Script("echo 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock.' >&2; exit 1");

        var answer = await ContainerRuntimeProbe.FindAsync(runtime, ProbeTimeout).WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);

        Assert.Null(answer.Runtime);
        Assert.Equal($"{runtime}: Cannot connect to the Docker daemon at unix:///var/run/docker.sock.", answer.Detail);
    }

    [Fact]
    public async Task A_runtime_that_does_not_answer_in_time_is_given_up_on()
    {
        var runtime = Script("sleep 60");
        var clock = Stopwatch.StartNew();

        var answer = await ContainerRuntimeProbe.FindAsync(runtime, ProbeTimeout).WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);

        Assert.Null(answer.Runtime);
        Assert.Equal($"{runtime}: no answer within 2 s", answer.Detail);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
    }

    [Fact]
    public async Task A_runtime_that_is_not_installed_does_not_answer()
    {
        var runtime = Path.Combine(_directory, "no-such-runtime");

        var answer = await ContainerRuntimeProbe.FindAsync(runtime, ProbeTimeout).WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);

        Assert.Null(answer.Runtime);
        Assert.Equal($"{runtime}: not installed", answer.Detail);
    }

    private string Script(string body)
    {
        var path = Path.Combine(_directory, $"runtime-{Guid.NewGuid():N}");
        File.WriteAllText(path, $"#!/bin/sh\n{body}\n");
        if (OperatingSystem.IsWindows())
        {
            Assert.Skip("The stand-in runtimes are shell scripts.");
        }
        else
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        return path;
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
