using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace LlmStack.Tests.Fixtures;

/// <summary>
/// A real Redis (Debian's <c>redis-server</c>, which test.sh installs) on a free loopback port, without persistence,
/// started and stopped by the test.
/// </summary>
public sealed class RedisServer : IDisposable
{
    private Process? _process;

    private RedisServer(int port) => Port = port;

    public int Port { get; }

    /// <summary>The connection string the API takes (<c>LlmStack:Auth:Redis</c>, <c>LlmStack:Responses:Redis</c>).</summary>
    public string ConnectionString => $"127.0.0.1:{Port}";

    public static async Task<RedisServer> StartAsync(CancellationToken cancellationToken)
    {
        var server = new RedisServer(FreePort());
        await server.RestartAsync(cancellationToken);
        return server;
    }

    /// <summary>Starts it again on the same port after <see cref="Stop"/>; answers once it accepts connections.</summary>
    public async Task RestartAsync(CancellationToken cancellationToken)
    {
        const string path = "/usr/bin/redis-server";
        Assert.True(File.Exists(path), "redis-server is not installed: ./test.sh installs Debian's (apt-get install redis-server).");
        _process = Process.Start(new ProcessStartInfo(path, ["--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, Port, cancellationToken);
                return;
            }
            catch (SocketException) when (deadline.Elapsed < TimeSpan.FromSeconds(20) && !_process.HasExited)
            {
                await Task.Delay(50, cancellationToken);
            }
        }
    }

    public void Stop()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(10_000);
        }
        _process?.Dispose();
        _process = null;
    }

    public void Dispose() => Stop();

    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
