using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Text.Json;

namespace LlmStack.Api.Backends.Embedded.Hub;

/// <summary>
/// Brings a hub model's GGUF file into the <see cref="ModelCache"/>, once, whatever happens on the way:
/// <list type="bullet">
/// <item>the file is chosen (by quantization when the source names none) and described by the hub: size, SHA-256, commit;</item>
/// <item>a verified copy in the cache is used as it is; one process downloads, the others wait for it (<see cref="CacheLock"/>);</item>
/// <item>the free disk space is checked first; the bytes go to a <c>.partial</c> file, resumed with an HTTP range
/// after a failure or a restart, hashed as they arrive, and moved into place only when their SHA-256 is the hub's
/// (a mismatch is thrown away and fetched once more);</item>
/// <item>network failures are retried with backoff - every attempt reported in the log and the progress - and a
/// connection that stops sending is abandoned and resumed;</item>
/// <item>progress goes to the log at most every <see cref="LogEvery"/> (percent, speed, time left).</item>
/// </list>
/// </summary>
internal sealed class ModelDownloader(HubClient hub, ModelCache cache, ILogger logger, TimeProvider time)
{
    /// <summary>The longest gap between two progress lines in the log.</summary>
    public static readonly TimeSpan LogEvery = TimeSpan.FromSeconds(5);

    /// <summary>Failed attempts in a row (none of them moving the download on) before the download gives up.</summary>
    public const int MaxAttempts = 8;

    private static readonly TimeSpan FirstBackoff = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan MaxRetryAfter = TimeSpan.FromMinutes(5);

    /// <summary>A connection that sends nothing for this long is dropped and the download resumed on a new one.</summary>
    public static readonly TimeSpan StallTimeout = TimeSpan.FromSeconds(30);

    private static readonly TimeSpan LockPoll = TimeSpan.FromMilliseconds(250);

    private const int BufferSize = 1 << 20;

    // Room left on the disk beyond the file itself.
    private const long DiskMargin = 64L << 20;

    /// <summary>Changes the time a test waits between attempts (production: exponential from 1 s to 30 s).</summary>
    internal TimeSpan? BackoffOverride { get; init; }

    /// <summary>The path of the verified file in the cache, downloading it unless it is there.</summary>
    /// <exception cref="HubException">It cannot be had; the message names the repository and what to do.</exception>
    public async Task<string> EnsureAsync(HubModelSource source, ModelDownloadProgress progress, CancellationToken cancellationToken)
    {
        progress.Enter(ModelFetchPhase.Resolving);
        var file = await ResolveAsync(source, progress, cancellationToken);
        progress.SetFile(file.Path, file.Size);
        var path = cache.PathOf(source, file);

        if (IsComplete(path, file))
        {
            progress.Report(file.Size);
            logger.LogInformation("Model {Model}: {File} of {Source} ({Size}, SHA-256 {Sha256}) is in the cache: {Path}",
                progress.Model, file.Path, source, ModelDownloadProgress.FormatBytes(file.Size), file.Sha256, path);
            WriteRecord(source, file);
            return path;
        }

        using (await AcquireAsync(source, file, progress, cancellationToken))
        {
            // The process that held the lock may have finished it meanwhile.
            if (!IsComplete(path, file))
            {
                await DownloadAsync(source, file, progress, cancellationToken);
            }
            else
            {
                logger.LogInformation("Model {Model}: another process downloaded {File}; using it: {Path}", progress.Model, file.Path, path);
            }
        }
        progress.Report(file.Size);
        WriteRecord(source, file);
        return path;
    }

    private async Task<HubFile> ResolveAsync(HubModelSource source, ModelDownloadProgress progress, CancellationToken cancellationToken)
    {
        try
        {
            return await ResolveOnlineAsync(source, cancellationToken);
        }
        catch (HubException ex) when (ex.Transient && ReadRecord(source) is { } cached && IsComplete(cache.PathOf(source, cached), cached))
        {
            // A restart without the hub: the file this source was last resolved to is here, verified when it was downloaded.
            logger.LogWarning("Model {Model}: the hub cannot be asked now ({Error}); using {File} as {Source} resolved the last time (commit {Commit}).",
                progress.Model, ex.Message, cached.Path, source, cached.Commit);
            return cached;
        }
        catch (HubException ex) when (ex.Transient)
        {
            return await RetryingAsync(source, progress, async () => await ResolveOnlineAsync(source, cancellationToken), ex, cancellationToken);
        }
    }

    private async Task<HubFile> ResolveOnlineAsync(HubModelSource source, CancellationToken cancellationToken)
    {
        var path = source.File;
        if (path is null)
        {
            var files = await hub.ListFilesAsync(source, cancellationToken);
            path = GgufFileChoice.Choose(files, source.Quantization);
            if (path is null)
            {
                var models = GgufFileChoice.Models(files).ToList();
                throw new HubException(
                    (source.Quantization is null
                        ? $"{source.Repository} at '{source.Revision}' has no GGUF model file."
                        : $"{source.Repository} at '{source.Revision}' has no GGUF file of quantization {source.Quantization}.") +
                    (models.Count > 0 ? $" Its GGUF files: {string.Join(", ", models.Take(20))}." : " It has no GGUF files at all: choose a repository that publishes GGUF (often named ...-GGUF)."),
                    transient: false);
            }
        }
        if (GgufFileChoice.SplitPart(path) is { Count: > 1 } split)
        {
            throw new HubException(
                $"{path} of {source.Repository} is part 1 of a model split in {split.Count} files; LlmStack downloads single-file GGUF models only. Choose a quantization published as one file (smaller ones usually are).",
                transient: false);
        }
        return await hub.DescribeAsync(source, path, cancellationToken);
    }

    private async Task<IDisposable> AcquireAsync(HubModelSource source, HubFile file, ModelDownloadProgress progress, CancellationToken cancellationToken)
    {
        var lockPath = cache.LockPathOf(source, file);
        var waiting = false;
        var lastLog = 0L;
        while (true)
        {
            if (CacheLock.TryAcquire(lockPath) is { } held)
            {
                return held;
            }
            if (!waiting)
            {
                waiting = true;
                progress.Enter(ModelFetchPhase.WaitingForAnotherProcess);
                logger.LogInformation("Model {Model}: another process is downloading {File} into {Folder}; waiting for it instead of downloading it twice.",
                    progress.Model, file.Path, cache.FolderOf(source, file));
                lastLog = time.GetTimestamp();
            }
            progress.Report(Length(cache.PartialPathOf(source, file)) ?? 0);
            if (time.GetElapsedTime(lastLog) >= LogEvery)
            {
                lastLog = time.GetTimestamp();
                logger.LogInformation("Model {Model}: {Progress}", progress.Model, progress.Describe());
            }
            await Task.Delay(LockPoll, time, cancellationToken);
        }
    }

    private async Task DownloadAsync(HubModelSource source, HubFile file, ModelDownloadProgress progress, CancellationToken cancellationToken)
    {
        var path = cache.PathOf(source, file);
        var partial = cache.PartialPathOf(source, file);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var present = Length(partial) ?? 0;
        if (present > file.Size)
        {
            File.Delete(partial);
            present = 0;
        }
        CheckDiskSpace(source, file, path, file.Size - present, progress.Model);

        logger.LogInformation(present > 0
                ? "Model {Model}: resuming the download of {File} ({Size}) from {Source} at {Present} into {Path}"
                : "Model {Model}: downloading {File} ({Size}) from {Source} into {Path}",
            progress.Model, file.Path, ModelDownloadProgress.FormatBytes(file.Size), source, ModelDownloadProgress.FormatBytes(present), path);

        var started = Stopwatch.StartNew();
        var fetchedBefore = progress.FetchedBytes;
        var hash = new HashState();
        var refetched = false;
        try
        {
            await RetryingAsync(source, progress, async () =>
            {
                progress.Enter(ModelFetchPhase.Downloading);
                await FetchAsync(source, file, partial, hash, progress, cancellationToken);

                progress.Enter(ModelFetchPhase.Verifying);
                var actual = Convert.ToHexStringLower(hash.Finish());
                if (actual != file.Sha256)
                {
                    File.Delete(partial);
                    hash.Reset();
                    progress.Report(0);
                    var message = $"{file.Path} of {source.Repository} arrived with SHA-256 {actual}, not the {file.Sha256} the hub publishes";
                    if (refetched)
                    {
                        throw new HubException($"{message}, twice: the download is refused. Check {HubSettings.EndpointKey} (a mirror serving other bytes?) and the network between here and the hub.", transient: false);
                    }
                    refetched = true;
                    logger.LogError("Model {Model}: {Message}: the file is refused and fetched again from the start.", progress.Model, message);
                    throw new HubException($"{message}; fetching it again", transient: true) { RetryAfter = TimeSpan.Zero };
                }
                File.Move(partial, path, overwrite: true);
                return true;
            }, first: null, cancellationToken);
        }
        finally
        {
            hash.Dispose();
        }

        var seconds = Math.Max(started.Elapsed.TotalSeconds, 1e-3);
        var fetched = progress.FetchedBytes - fetchedBefore;
        logger.LogInformation("Model {Model}: downloaded and verified {File} ({Size}, SHA-256 {Sha256}) in {Seconds:0.0} s ({Rate}/s; {Fetched} fetched)",
            progress.Model, file.Path, ModelDownloadProgress.FormatBytes(file.Size), file.Sha256, seconds,
            ModelDownloadProgress.FormatBytes((long)(fetched / seconds)), ModelDownloadProgress.FormatBytes(fetched));
    }

    /// <summary>One attempt: the rest of the file, appended to the partial file and hashed.</summary>
    private async Task FetchAsync(HubModelSource source, HubFile file, string partial, HashState hash, ModelDownloadProgress progress, CancellationToken cancellationToken)
    {
        var present = Length(partial) ?? 0;
        if (hash.Length != present)
        {
            // A new process (or a write that failed after hashing): hash what the file holds, then go on from there.
            hash.Reset();
            if (present > 0)
            {
                await hash.AppendFileAsync(partial, present, cancellationToken);
            }
        }
        progress.Report(present);
        if (present == file.Size)
        {
            return;
        }

        using var response = await hub.OpenAsync(source, file, present, cancellationToken);
        if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
        {
            File.Delete(partial);
            hash.Reset();
            throw new HubException($"the server refused to resume {file.Path} at byte {present}; starting it again", transient: true) { RetryAfter = TimeSpan.Zero };
        }
        var offset = present;
        if (present > 0 && (response.StatusCode != HttpStatusCode.PartialContent || response.Content.Headers.ContentRange?.From != present))
        {
            // The server sent the whole file instead of the rest: start over with it rather than fail.
            logger.LogWarning("Model {Model}: the server does not resume downloads (it answered {Status} to a range request); fetching {File} from the start.",
                progress.Model, (int)response.StatusCode, file.Path);
            hash.Reset();
            offset = 0;
        }

        await using var output = new FileStream(partial, FileMode.OpenOrCreate, FileAccess.Write, FileShare.Read, bufferSize: 0, FileOptions.Asynchronous);
        output.SetLength(offset);
        output.Position = offset;
        await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
        var buffer = new byte[BufferSize];
        var done = offset;
        var lastLog = time.GetTimestamp();
        using var stall = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        while (done < file.Size)
        {
            stall.CancelAfter(StallTimeout);
            int read;
            try
            {
                read = await body.ReadAsync(buffer, stall.Token);
            }
            catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
            {
                throw new HubException($"the connection sent nothing for {StallTimeout.TotalSeconds:0} s at {ModelDownloadProgress.FormatBytes(done)}", transient: true, ex);
            }
            catch (Exception ex) when (ex is IOException or HttpRequestException)
            {
                throw new HubException($"the connection broke at {ModelDownloadProgress.FormatBytes(done)}: {ex.Message}", transient: true, ex);
            }
            if (read == 0)
            {
                throw new HubException($"the connection closed at {done:N0} of {file.Size:N0} bytes", transient: true);
            }
            var take = (int)Math.Min(read, file.Size - done);
            try
            {
                await output.WriteAsync(buffer.AsMemory(0, take), cancellationToken);
            }
            catch (IOException ex)
            {
                throw new HubException($"Writing {partial} failed: {ex.Message}. Free disk space there, or set LlmStack:ModelCache to a folder on a larger disk.", transient: false, ex);
            }
            hash.Append(buffer.AsSpan(0, take));
            done += take;
            progress.Report(done, read);
            if (time.GetElapsedTime(lastLog) >= LogEvery)
            {
                lastLog = time.GetTimestamp();
                logger.LogInformation("Model {Model}: {Progress}", progress.Model, progress.Describe());
            }
        }
    }

    /// <summary>
    /// Runs <paramref name="attempt"/> until it succeeds, waiting with exponential backoff after each transient
    /// failure (reported in the log and the progress); gives up after <see cref="MaxAttempts"/> failures in a row
    /// that did not move the download on.
    /// </summary>
    private async Task<T> RetryingAsync<T>(HubModelSource source, ModelDownloadProgress progress, Func<Task<T>> attempt, HubException? first, CancellationToken cancellationToken)
    {
        var failures = 0;
        var error = first;
        while (true)
        {
            if (error is not null)
            {
                failures++;
                if (failures >= MaxAttempts)
                {
                    throw new HubException($"Downloading {source} failed {failures} times in a row; the last error: {error.Message}. Check the network and {HubSettings.EndpointKey}, then restart the API to try again.", transient: false, error);
                }
                var delay = error.RetryAfter is { } asked
                    ? TimeSpan.FromTicks(Math.Clamp(asked.Ticks, 0, MaxRetryAfter.Ticks))
                    : BackoffOverride ?? TimeSpan.FromTicks(Math.Min(MaxBackoff.Ticks, FirstBackoff.Ticks << Math.Min(failures - 1, 16)));
                progress.Enter(ModelFetchPhase.Retrying, error.Message, time.GetUtcNow() + delay);
                logger.LogWarning("Model {Model}: {Error}; retrying in {Delay:0.#} s (attempt {Attempt} of {Max})",
                    progress.Model, error.Message, delay.TotalSeconds, failures + 1, MaxAttempts);
                await Task.Delay(delay, time, cancellationToken);
            }
            var before = progress.DoneBytes;
            try
            {
                return await attempt();
            }
            catch (HubException ex) when (ex.Transient)
            {
                // An attempt that moved the download on starts the count again: only a stuck download gives up.
                if (progress.DoneBytes > before)
                {
                    failures = 0;
                }
                error = ex;
            }
        }
    }

    private void CheckDiskSpace(HubModelSource source, HubFile file, string path, long needed, string model)
    {
        var folder = Path.GetDirectoryName(path)!;
        long free;
        try
        {
            free = new DriveInfo(folder).AvailableFreeSpace;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            logger.LogWarning("Model {Model}: the free disk space in {Folder} cannot be told ({Error}); downloading anyway.", model, folder, ex.Message);
            return;
        }
        if (free < needed + DiskMargin)
        {
            throw new HubException(
                $"{file.Path} of {source.Repository} needs {ModelDownloadProgress.FormatBytes(needed)} of free disk space in {folder}, but only {ModelDownloadProgress.FormatBytes(free)} is free. Free space there, or set LlmStack:ModelCache to a folder on a larger disk.",
                transient: false);
        }
    }

    private static bool IsComplete(string path, HubFile file) => Length(path) == file.Size;

    private static long? Length(string path)
    {
        try
        {
            var info = new FileInfo(path);
            return info.Exists ? info.Length : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    private void WriteRecord(HubModelSource source, HubFile file)
    {
        var record = cache.RecordPathOf(source);
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(record)!);
            var temporary = $"{record}.{Environment.ProcessId}.tmp";
            File.WriteAllText(temporary, JsonSerializer.Serialize(file, HubJsonContext.Default.HubFile));
            File.Move(temporary, record, overwrite: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            logger.LogWarning("Model {Model}: could not note what {Source} resolved to in {Record}: {Error}", file.Path, source, record, ex.Message);
        }
    }

    private HubFile? ReadRecord(HubModelSource source)
    {
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllText(cache.RecordPathOf(source)), HubJsonContext.Default.HubFile);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or JsonException)
        {
            return null;
        }
    }

    /// <summary>SHA-256 of the partial file's bytes, fed as they are written, and how many it has seen.</summary>
    private sealed class HashState : IDisposable
    {
        private IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

        public long Length { get; private set; }

        public void Append(ReadOnlySpan<byte> bytes)
        {
            _hash.AppendData(bytes);
            Length += bytes.Length;
        }

        public async Task AppendFileAsync(string path, long length, CancellationToken cancellationToken)
        {
            await using var input = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, BufferSize, FileOptions.Asynchronous | FileOptions.SequentialScan);
            var buffer = new byte[BufferSize];
            while (Length < length)
            {
                var read = await input.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, length - Length)), cancellationToken);
                if (read == 0)
                {
                    break;
                }
                Append(buffer.AsSpan(0, read));
            }
        }

        public byte[] Finish() => _hash.GetCurrentHash();

        public void Reset()
        {
            _hash.Dispose();
            _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            Length = 0;
        }

        public void Dispose() => _hash.Dispose();
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(HubFile))]
internal sealed partial class HubJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
