using System.Diagnostics;
using System.Text.RegularExpressions;

namespace LlmStack.Benchmarks.Hosting;

/// <summary>
/// LlmStack.Api started as its own process, the way users run it, serving one embedded model configured
/// through <c>LlmStack__Models__0__*</c> environment variables, on a loopback port the OS picks.
/// </summary>
public sealed partial class ApiProcess : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(3);

    // The API's last lines of output, to tell why it failed to start or stopped.
    private const int OutputLinesKept = 40;

    private readonly Process _process;
    private readonly Queue<string> _output;

    private ApiProcess(Process process, Queue<string> output, Uri baseAddress)
    {
        _process = process;
        _output = output;
        BaseAddress = baseAddress;
    }

    /// <summary><c>http://127.0.0.1:&lt;port&gt;/</c>.</summary>
    public Uri BaseAddress { get; }

    /// <summary>Starts the API and returns once <c>/readyz</c> says the model is loaded.</summary>
    /// <param name="tuning">The embedded backend settings to pass as <c>LlmStack:Models:0:*</c> keys.</param>
    /// <param name="settings">Further configuration, as environment variables (e.g. <c>LlmStack__Auth__Keys__0__Key</c>).</param>
    public static Task<ApiProcess> StartAsync(
        string modelId, string modelPath, EmbeddedTuning tuning, CancellationToken cancellationToken, IReadOnlyDictionary<string, string>? settings = null) =>
        StartAsync(EmbeddedSettings(modelId, modelPath, tuning, settings), waitUntilReady: true, cancellationToken);

    /// <summary>The environment of an API serving one embedded model with <paramref name="tuning"/>, and further <paramref name="settings"/>.</summary>
    public static IReadOnlyDictionary<string, string> EmbeddedSettings(
        string modelId, string modelPath, EmbeddedTuning tuning, IReadOnlyDictionary<string, string>? settings = null)
    {
        var environment = new Dictionary<string, string>
        {
            ["LlmStack__Models__0__Id"] = modelId,
            ["LlmStack__Models__0__Backend"] = "embedded",
            ["LlmStack__Models__0__Path"] = modelPath,
        };
        foreach (var (key, value) in tuning.Settings())
        {
            environment[$"LlmStack__Models__0__{key.Replace(":", "__", StringComparison.Ordinal)}"] = value;
        }
        if (tuning.LlamaCppLibraries is { } libraries)
        {
            environment["LlmStack__LlamaCppLibraries"] = libraries;
        }
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            environment[key] = value;
        }
        return environment;
    }

    /// <summary>
    /// Starts the API configured by <paramref name="settings"/> (environment variables) and returns once it listens -
    /// or, with <paramref name="waitUntilReady"/>, once <c>/readyz</c> says its models are ready.
    /// </summary>
    public static async Task<ApiProcess> StartAsync(IReadOnlyDictionary<string, string> settings, bool waitUntilReady, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(ApiExecutable())
        {
            WorkingDirectory = AppContext.BaseDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        var environment = start.Environment;
        environment["ASPNETCORE_URLS"] = "http://127.0.0.1:0";
        environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        // No collector to export to; a blank endpoint switches the OTLP exporter off.
        environment["OTEL_EXPORTER_OTLP_ENDPOINT"] = "";
        // A log line per request written to a pipe would be measured as API overhead: keep what an operator keeps.
        environment["Logging__LogLevel__Default"] = "Warning";
        environment["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Information";
        foreach (var (key, value) in settings)
        {
            environment[key] = value;
        }

        var process = ChildProcesses.Start(start);
        var listening = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        var output = new Queue<string>();
        void Read(object? sender, DataReceivedEventArgs e)
        {
            if (e.Data is null)
            {
                return;
            }
            // Stack frames would crowd the API's own message out of the lines kept.
            if (e.Data.TrimStart().StartsWith("at ", StringComparison.Ordinal))
            {
                return;
            }
            lock (output)
            {
                output.Enqueue(e.Data);
                if (output.Count > OutputLinesKept)
                {
                    output.Dequeue();
                }
            }
            if (ListeningOn().Match(e.Data) is { Success: true } match)
            {
                listening.TrySetResult(new Uri(match.Groups["url"].Value.TrimEnd('/') + "/"));
            }
        }
        process.OutputDataReceived += Read;
        process.ErrorDataReceived += Read;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(StartTimeout);
        try
        {
            var exited = process.WaitForExitAsync(timeout.Token);
            var first = await Task.WhenAny(listening.Task, exited);
            if (first == exited)
            {
                await exited; // a timeout or cancellation surfaces here
                throw new BenchmarkException($"LlmStack.Api exited with code {process.ExitCode} before listening:\n{Tail(output)}");
            }
            var api = new ApiProcess(process, output, await listening.Task);
            if (waitUntilReady)
            {
                await api.WaitUntilReadyAsync(timeout.Token);
            }
            return api;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            Stop(process);
            throw new BenchmarkException($"LlmStack.Api was not ready within {StartTimeout.TotalSeconds:F0} s:\n{Tail(output)}");
        }
        catch
        {
            Stop(process);
            throw;
        }
    }

    /// <summary>
    /// Starts one API per entry of <paramref name="settings"/> at once; if any fails, the others are stopped too (a caller
    /// that gets no array cannot dispose them).
    /// </summary>
    public static async Task<ApiProcess[]> StartAllAsync(IEnumerable<IReadOnlyDictionary<string, string>> settings, bool waitUntilReady,
        CancellationToken cancellationToken)
    {
        var starts = settings.Select(s => StartAsync(s, waitUntilReady, cancellationToken)).ToList();
        try
        {
            return await Task.WhenAll(starts);
        }
        catch
        {
            foreach (var started in starts.Where(s => s.IsCompletedSuccessfully))
            {
                await started.Result.DisposeAsync();
            }
            throw;
        }
    }

    /// <summary>The API's resident memory now (its working set: RSS on Linux).</summary>
    public long ResidentBytes
    {
        get
        {
            _process.Refresh();
            return _process.WorkingSet64;
        }
    }

    public async ValueTask DisposeAsync()
    {
        Stop(_process);
        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        _process.Dispose();
    }

    /// <summary>The API's last lines of output.</summary>
    public string Output => Tail(_output);

    /// <summary>Returns once <c>/readyz</c> answers 200; throws with the API's last words if it exits first.</summary>
    public async Task WaitUntilReadyAsync(CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(10) };
        while (true)
        {
            try
            {
                using var response = await http.GetAsync("readyz", cancellationToken);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException) when (_process.HasExited)
            {
                // Reported below with the API's own words.
            }
            if (_process.HasExited)
            {
                throw new BenchmarkException($"LlmStack.Api exited with code {_process.ExitCode} while loading the model:\n{Tail(_output)}");
            }
            // Model loading has no completion signal but readiness: poll it.
            await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken);
        }
    }

    private static string ApiExecutable()
    {
        // The project reference copies the API's app host next to the benchmark.
        var path = Path.Combine(AppContext.BaseDirectory, OperatingSystem.IsWindows() ? "LlmStack.Api.exe" : "LlmStack.Api");
        return File.Exists(path) ? path : throw new FileNotFoundException($"LlmStack.Api was not found next to the benchmark: {path}. Build the solution first.");
    }

    private static void Stop(Process process) => ChildProcesses.Kill(process);

    private static string Tail(Queue<string> output)
    {
        lock (output)
        {
            return string.Join('\n', output);
        }
    }

    [GeneratedRegex(@"Now listening on: (?<url>http://\S+)")]
    private static partial Regex ListeningOn();
}
