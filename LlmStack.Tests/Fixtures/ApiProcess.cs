using System.Diagnostics;
using System.Net.Http.Headers;

namespace LlmStack.Tests.Fixtures;

/// <summary>
/// LlmStack.Api as its own process (<c>dotnet LlmStack.Api.dll</c> from the test's output, as a replica runs), configured
/// by environment variables, on a free loopback port; killed on dispose. For what only separate processes show: state
/// that replicas share (Redis), not state one process shares with itself.
/// </summary>
public sealed class ApiProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly List<string> _output = [];

    private ApiProcess(Process process, Uri baseAddress)
    {
        _process = process;
        BaseAddress = baseAddress;
    }

    public Uri BaseAddress { get; }

    /// <summary>Starts it with <paramref name="settings"/> (configuration keys, e.g. <c>LlmStack:Auth:Redis</c>) and waits until /healthz answers.</summary>
    public static async Task<ApiProcess> StartAsync(IReadOnlyDictionary<string, string?> settings, CancellationToken cancellationToken)
    {
        var baseAddress = new Uri($"http://127.0.0.1:{RedisServer.FreePort()}/");
        var start = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "LlmStack.Api.dll")])
        {
            WorkingDirectory = AppContext.BaseDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["ASPNETCORE_URLS"] = baseAddress.ToString();
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        start.Environment["OTEL_EXPORTER_OTLP_ENDPOINT"] = "";
        foreach (var (key, value) in settings)
        {
            start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }
        var api = new ApiProcess(Process.Start(start)!, baseAddress);
        api._process.OutputDataReceived += (_, e) => api.Keep(e.Data);
        api._process.ErrorDataReceived += (_, e) => api.Keep(e.Data);
        api._process.BeginOutputReadLine();
        api._process.BeginErrorReadLine();

        using var client = api.CreateClient();
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            Assert.False(api._process.HasExited, $"the API exited at start:\n{api.Output}");
            try
            {
                using var health = await client.GetAsync("/healthz", cancellationToken);
                if (health.IsSuccessStatusCode)
                {
                    return api;
                }
            }
            catch (HttpRequestException) when (deadline.Elapsed < TimeSpan.FromSeconds(90))
            {
            }
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(90), $"the API did not answer /healthz within 90 s:\n{api.Output}");
            await Task.Delay(100, cancellationToken);
        }
    }

    /// <summary>What the process wrote to its console (its log lines).</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return string.Join('\n', _output);
            }
        }
    }

    public HttpClient CreateClient(string? key = null)
    {
        var client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        if (key is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }
        return client;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }

    private void Keep(string? line)
    {
        if (line is not null)
        {
            lock (_output)
            {
                _output.Add(line);
            }
        }
    }
}
