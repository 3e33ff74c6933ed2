using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using LlmStack.Api.Backends.Embedded.Hub;
using LlmStack.Benchmarks.Load;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;

namespace LlmStack.Benchmarks.Hub;

/// <summary>
/// <c>download</c>: the embedded model download's throughput against curl fetching the same file from the same
/// <see cref="LocalHub"/> (the hub's URL layout and redirect; loopback, so the network is not what is measured),
/// in one run, alternating which goes first. LlmStack's side is the API's own downloader, as the API wires it: the
/// hub's file description, the ranged GET through the redirect, the SHA-256 of every byte, the <c>.partial</c> file
/// moved into the cache once verified. curl writes the file and nothing else.
/// </summary>
internal static class DownloadCommand
{
    private const string Repository = "llmstack/Bench-GGUF";
    private const string FileName = "bench-Q8_0.gguf";

    /// <summary>The target: LlmStack's downloader at least this fraction of curl's throughput.</summary>
    private const double Target = 0.8;

    public static Command Create()
    {
        var sizeMb = BenchOptions.Positive(new("--size-mb") { Description = "Size of the file served, in MB.", DefaultValueFactory = _ => 512 });
        var runs = BenchOptions.Positive(new("--runs") { Description = "Downloads of each kind (curl, LlmStack), alternating.", DefaultValueFactory = _ => 5 });
        var command = new Command("download", "Embedded model download throughput against curl, from a local hub, side by side.")
        {
            sizeMb, runs,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var folder = Directory.CreateTempSubdirectory("llmstack-download-bench-").FullName;
            try
            {
                await RunAsync(folder, parse.GetValue(sizeMb) * 1_000_000L, parse.GetValue(runs), cancellationToken);
            }
            finally
            {
                Directory.Delete(folder, recursive: true);
            }
        });
        return command;
    }

    private static async Task RunAsync(string folder, long size, int runs, CancellationToken cancellationToken)
    {
        var served = Path.Combine(folder, FileName);
        WriteRandomFile(served, size);
        await using var hub = await LocalHub.StartAsync();
        hub.AddFile(Repository, FileName, served);
        var url = new Uri(hub.Endpoint, $"{Repository}/resolve/main/{FileName}");
        var source = HubModelSource.TryParse($"hf://{Repository}/{FileName}", out var parsed, out var problem)
            ? parsed : throw new BenchmarkException(problem!);
        var settings = HubSettings.From(new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { [HubSettings.EndpointKey] = hub.Endpoint.AbsoluteUri }).Build());
        using var http = new HttpClient(HubModelsExtensions.CreateHandler()) { Timeout = Timeout.InfiniteTimeSpan };

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"download: {size / 1e6:0} MB from a local hub at {hub.Endpoint} (302 to its storage path), {runs} runs of each, alternating"));
        Console.WriteLine("| run | curl MB/s | LlmStack MB/s | LlmStack / curl |");
        Console.WriteLine("|---|---|---|---|");
        var curl = new List<double>();
        var llmstack = new List<double>();
        for (var run = 1; run <= runs; run++)
        {
            // Alternating the order, so that neither always meets a warmer page cache or a quieter machine.
            var curlFirst = run % 2 == 1;
            for (var turn = 0; turn < 2; turn++)
            {
                if ((turn == 0) == curlFirst)
                {
                    curl.Add(size / 1e6 / await CurlAsync(url, Path.Combine(folder, "curl.gguf"), size, cancellationToken));
                }
                else
                {
                    llmstack.Add(size / 1e6 / await LlmStackAsync(http, settings, source, Path.Combine(folder, "cache"), size, cancellationToken));
                }
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {run} | {curl[^1]:0} | {llmstack[^1]:0} | {llmstack[^1] / curl[^1]:0.00} |"));
        }
        var curlMedian = Percentiles.Median(curl)!.Value;
        var llmstackMedian = Percentiles.Median(llmstack)!.Value;
        var ratio = llmstackMedian / curlMedian;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| median | {curlMedian:0} | {llmstackMedian:0} | {ratio:0.00} |"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"LlmStack's download runs at {ratio:0.00}x curl's throughput (median of {runs}; target >= {Target:0.0}x): {(ratio >= Target ? "met" : "NOT met")}."));
    }

    /// <summary>Seconds curl takes to fetch the file (its own <c>time_total</c>: the process's start is not counted).</summary>
    private static async Task<double> CurlAsync(Uri url, string output, long size, CancellationToken cancellationToken)
    {
        File.Delete(output);
        var start = new ProcessStartInfo("curl", ["--silent", "--show-error", "--location", "--output", output, "--write-out", "%{time_total} %{size_download}", url.AbsoluteUri])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new BenchmarkException($"curl could not be started ({ex.Message}); install it to compare against it.");
        }
        using (process)
        {
            var printed = await process.StandardOutput.ReadToEndAsync(cancellationToken);
            var errors = await process.StandardError.ReadToEndAsync(cancellationToken);
            await process.WaitForExitAsync(cancellationToken);
            var parts = printed.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (process.ExitCode != 0 || parts.Length != 2 || long.Parse(parts[1], CultureInfo.InvariantCulture) != size)
            {
                throw new BenchmarkException($"curl failed (exit {process.ExitCode}): {printed} {errors}");
            }
            File.Delete(output);
            return double.Parse(parts[0], CultureInfo.InvariantCulture);
        }
    }

    /// <summary>Seconds the API's downloader takes to bring the file into an empty cache, verified.</summary>
    private static async Task<double> LlmStackAsync(HttpClient http, HubSettings settings, HubModelSource source, string cacheFolder, long size,
        CancellationToken cancellationToken)
    {
        if (Directory.Exists(cacheFolder))
        {
            Directory.Delete(cacheFolder, recursive: true);
        }
        var downloader = new ModelDownloader(new HubClient(http, settings), new ModelCache(cacheFolder), NullLogger.Instance, TimeProvider.System);
        var progress = new ModelDownloadProgress("bench", source.ToString(), TimeProvider.System);
        var started = Stopwatch.GetTimestamp();
        var path = await downloader.EnsureAsync(source, progress, cancellationToken);
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        if (new FileInfo(path).Length != size)
        {
            throw new BenchmarkException($"The downloader left {new FileInfo(path).Length} bytes at {path}, not {size}.");
        }
        return seconds;
    }

    private static void WriteRandomFile(string path, long size)
    {
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        var buffer = new byte[1 << 20];
        for (var written = 0L; written < size; written += buffer.Length)
        {
            RandomNumberGenerator.Fill(buffer);
            file.Write(buffer, 0, (int)Math.Min(buffer.Length, size - written));
        }
    }
}
