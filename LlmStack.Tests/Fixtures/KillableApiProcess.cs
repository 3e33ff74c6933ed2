extern alias bench;

using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using bench::LlmStack.Benchmarks.Hosting;

namespace LlmStack.Tests.Fixtures;

/// <summary>
/// LlmStack.Api as a process of its own on a loopback port (the build's <c>LlmStack.Api.dll</c>, configured by environment
/// variables the way a deployment configures it) - an upstream that a test can kill outright (<see cref="Kill"/>: no
/// drain, connections reset) and start again on the same port (<see cref="StartAsync()"/>).
/// </summary>
public sealed class KillableApiProcess : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);

    private readonly IReadOnlyDictionary<string, string> _environment;
    private readonly StringBuilder _output = new();
    private Process? _process;

    /// <param name="settings">Configuration keys (<c>LlmStack:Models:0:Id</c>, ...), passed as environment variables.</param>
    public KillableApiProcess(IReadOnlyDictionary<string, string> settings)
    {
        Port = FreePort();
        _environment = settings.ToDictionary(s => s.Key.Replace(":", "__", StringComparison.Ordinal), s => s.Value);
    }

    public int Port { get; }

    /// <summary>The OpenAI root (<c>http://127.0.0.1:port/v1</c>), what an <c>openai</c> replica's Endpoint takes.</summary>
    public string OpenAIEndpoint => $"http://127.0.0.1:{Port}/v1";

    /// <summary>Starts the process and waits until its <c>/readyz</c> answers 200.</summary>
    public async Task StartAsync()
    {
        var process = Launch();
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{Port}"), Timeout = TimeSpan.FromSeconds(5) };
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < StartTimeout)
        {
            if (process.HasExited)
            {
                ChildProcesses.Kill(process);
                Assert.Fail($"The API process exited with {process.ExitCode} before it was ready:\n{Output}");
            }
            try
            {
                if ((await http.GetAsync("/readyz")).StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                // Not listening yet, or still starting (a loaded machine answers slowly).
            }
            await Task.Delay(100);
        }
        // Not left running for an owner that may never dispose it (a fixture whose start failed).
        Kill();
        Assert.Fail($"The API process was not ready within {StartTimeout.TotalSeconds} s:\n{Output}");
    }

    /// <summary>Starts the process for a configuration it should refuse, and waits for it to exit: its exit code (its output is <see cref="Output"/>).</summary>
    public async Task<int> RunToExitAsync()
    {
        var process = Launch();
        using var timeout = new CancellationTokenSource(StartTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            Kill();
            Assert.Fail($"The API process did not exit within {StartTimeout.TotalSeconds} s:\n{Output}");
        }
        // The exit can come before the last redirected lines are read: this wait returns once they are.
        process.WaitForExit();
        return process.ExitCode;
    }

    private Process Launch()
    {
        if (_process is { HasExited: false })
        {
            throw new InvalidOperationException("The API process is already running.");
        }
        var start = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "LlmStack.Api.dll")])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        start.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{Port}";
        start.Environment["OTEL_EXPORTER_OTLP_ENDPOINT"] = "";
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        foreach (var (key, value) in _environment)
        {
            start.Environment[key] = value;
        }
        var process = ChildProcesses.Start(start);
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
        return process;
    }

    /// <summary>Kills the process at once (SIGKILL): its open connections are reset, nothing is drained.</summary>
    public void Kill()
    {
        if (_process is { } process)
        {
            ChildProcesses.Kill(process);
            process.WaitForExit(TimeSpan.FromSeconds(10));
        }
    }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public ValueTask DisposeAsync()
    {
        Kill();
        _process?.Dispose();
        return ValueTask.CompletedTask;
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_output)
            {
                _output.AppendLine(line);
            }
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
