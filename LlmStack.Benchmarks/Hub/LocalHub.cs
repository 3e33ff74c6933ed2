using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LlmStack.Benchmarks.Hub;

/// <summary>
/// A Hugging Face hub on one port, for the tests and the download benchmark (no real hub is reachable here), with
/// the hub's URL layout and headers, so the API's real download code runs against it:
/// <list type="bullet">
/// <item><c>GET /api/models/{owner}/{repo}/tree/{revision}</c>: the repository's files (type, path, size, oid, lfs.oid = SHA-256);</item>
/// <item><c>HEAD|GET /{owner}/{repo}/resolve/{revision}/{path}</c>: 302 to the storage path with <c>X-Repo-Commit</c>,
/// <c>X-Linked-Etag</c> (the SHA-256 in quotes), <c>X-Linked-Size</c>; the hub's refusals - 401 <c>RepoNotFound</c>
/// for an unknown or private repository without a token, 401/403 <c>GatedRepo</c>, 404 <c>RevisionNotFound</c> and
/// <c>EntryNotFound</c> - with <c>X-Error-Code</c> and <c>X-Error-Message</c>;</item>
/// <item><c>GET /cdn/{sha256}/{name}</c>: the bytes, with <c>Range</c> (206, <c>Content-Range</c>), under another host
/// name (<c>localhost</c> where the hub is <c>127.0.0.1</c>; the same host when it is given a public one), as the hub's
/// storage is another host.</item>
/// </list>
/// Faults a download must survive can be switched on: a speed limit, a hold at a byte offset until released, a
/// connection cut once at an offset, one corrupted download, a server that ignores ranges.
/// </summary>
public sealed class LocalHub : IAsyncDisposable
{
    /// <summary>The commit every repository's <c>main</c> points at.</summary>
    public const string Commit = "4c3a1e0f7b9d2c5a8e6f1b0d3c7a9e2f5b8d1c4a";

    private readonly ConcurrentDictionary<string, Repository> _repositories = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, HostedFile> _bySha = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _ranges = new();
    private readonly ConcurrentQueue<string?> _storageAuthorizations = new();
    private readonly ConcurrentQueue<string?> _hubAuthorizations = new();
    private WebApplication _app = null!;
    private TaskCompletionSource _released = NewSignal();
    private TaskCompletionSource _holding = NewSignal();
    private long _bytesServed;
    private int _downloads;
    private int _corruptNext;
    private long _cutAt = -1;
    private string _storageHost = "localhost";

    private LocalHub()
    {
    }

    /// <summary>The hub's root (<c>http://127.0.0.1:&lt;port&gt;/</c>): what <c>HF_ENDPOINT</c> is set to.</summary>
    public Uri Endpoint { get; private set; } = null!;

    /// <summary>The token private and gated repositories accept (<c>Authorization: Bearer</c>).</summary>
    public string Token { get; set; } = "hf_localhubtoken0123456789";

    /// <summary>Bytes per second each download is limited to; 0 for no limit.</summary>
    public long BytesPerSecond { get; set; }

    /// <summary>A download stops sending at this offset of the file until <see cref="Release"/>; null never holds.</summary>
    public long? HoldAt { get; set; }

    /// <summary>Answers range requests with the whole file (200), as a server without range support does.</summary>
    public bool IgnoreRange { get; set; }

    /// <summary>Bytes of files sent, over all downloads (what a resumed download fetches twice shows here).</summary>
    public long BytesServed => Interlocked.Read(ref _bytesServed);

    /// <summary>Requests for a file's bytes.</summary>
    public int Downloads => Volatile.Read(ref _downloads);

    /// <summary>The <c>Range</c> header of every download ("" when none).</summary>
    public IReadOnlyList<string> Ranges => [.. _ranges];

    /// <summary>The <c>Authorization</c> header of every request at the storage host (a token must never reach it).</summary>
    public IReadOnlyList<string?> StorageAuthorizations => [.. _storageAuthorizations];

    /// <summary>The <c>Authorization</c> header of every request at the hub itself.</summary>
    public IReadOnlyList<string?> HubAuthorizations => [.. _hubAuthorizations];

    /// <summary>Completes when a download reached <see cref="HoldAt"/> and waits there.</summary>
    public Task Holding => _holding.Task;

    /// <param name="endpoint">Where it listens; loopback on a free port unless said.</param>
    /// <param name="publicHost">
    /// The host name or address its clients reach it at (e.g. the Docker bridge's gateway, for containers), for the
    /// hub's own address and the storage host both; without it, <c>127.0.0.1</c> with storage at <c>localhost</c>.
    /// </param>
    public static async Task<LocalHub> StartAsync(IPEndPoint? endpoint = null, string? publicHost = null)
    {
        var hub = new LocalHub { _storageHost = publicHost ?? "localhost" };
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(endpoint ?? new IPEndPoint(IPAddress.Loopback, 0)));
        var app = builder.Build();
        app.MapGet("/api/models/{owner}/{name}/tree/{revision}", hub.Tree);
        app.MapMethods("/{owner}/{name}/resolve/{revision}/{**path}", ["GET", "HEAD"], hub.Resolve);
        app.MapGet("/cdn/{sha256}/{fileName}", hub.ServeAsync);
        await app.StartAsync();
        hub._app = app;
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        var listening = new Uri(address.TrimEnd('/') + "/");
        hub.Endpoint = publicHost is null ? listening : new UriBuilder(listening) { Host = publicHost }.Uri;
        return hub;
    }

    /// <summary>Publishes <paramref name="localFile"/> as <paramref name="path"/> of <paramref name="repository"/> (<c>owner/name</c>).</summary>
    /// <param name="access">Who may read the repository.</param>
    /// <param name="advertisedSize">A size to announce instead of the file's own (a file too large for the disk).</param>
    public string AddFile(string repository, string path, string localFile, RepositoryAccess access = RepositoryAccess.Public, long? advertisedSize = null)
    {
        var sha256 = Sha256Of(localFile);
        var file = new HostedFile(path, localFile, new FileInfo(localFile).Length, sha256, advertisedSize);
        _bySha[sha256] = file;
        var repo = _repositories.GetOrAdd(repository, _ => new Repository(access));
        repo.Files[path] = file;
        return sha256;
    }

    /// <summary>Lets held downloads go on; <see cref="HoldAt"/> is cleared.</summary>
    public void Release()
    {
        HoldAt = null;
        _released.TrySetResult();
    }

    /// <summary>Cuts the connection of the next download that passes <paramref name="offset"/> of its file (once).</summary>
    public void CutOnceAt(long offset) => Interlocked.Exchange(ref _cutAt, offset);

    /// <summary>Flips one byte in the middle of the next download.</summary>
    public void CorruptNextDownload() => Interlocked.Exchange(ref _corruptNext, 1);

    public void ResetCounters()
    {
        Interlocked.Exchange(ref _bytesServed, 0);
        Interlocked.Exchange(ref _downloads, 0);
        _ranges.Clear();
        _storageAuthorizations.Clear();
        _hubAuthorizations.Clear();
        _released = NewSignal();
        _holding = NewSignal();
    }

    public async ValueTask DisposeAsync()
    {
        _released.TrySetResult();
        using var stopping = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await _app.StopAsync(stopping.Token);
        await _app.DisposeAsync();
    }

    private IResult Tree(HttpContext context, string owner, string name, string revision)
    {
        if (Refusal(context, owner, name, revision, path: null) is { } refused)
        {
            return refused;
        }
        var repo = _repositories[$"{owner}/{name}"];
        var entries = new JsonArray();
        foreach (var folder in repo.Files.Keys.Where(p => p.Contains('/')).Select(p => p[..p.LastIndexOf('/')]).Distinct())
        {
            entries.Add(new JsonObject { ["type"] = "directory", ["oid"] = new string('0', 40), ["size"] = 0, ["path"] = folder });
        }
        foreach (var file in repo.Files.Values.OrderBy(f => f.Path, StringComparer.Ordinal))
        {
            entries.Add(new JsonObject
            {
                ["type"] = "file",
                ["oid"] = file.Sha256[..40],
                ["size"] = file.Size,
                ["path"] = file.Path,
                ["lfs"] = new JsonObject { ["oid"] = file.Sha256, ["size"] = file.Size, ["pointerSize"] = 134 },
            });
        }
        return Results.Text(entries.ToJsonString(), "application/json");
    }

    private IResult Resolve(HttpContext context, string owner, string name, string revision, string path)
    {
        if (Refusal(context, owner, name, revision, path) is { } refused)
        {
            return refused;
        }
        var file = _repositories[$"{owner}/{name}"].Files[path];
        var headers = context.Response.Headers;
        headers["X-Repo-Commit"] = Commit;
        headers["X-Linked-Etag"] = $"\"{file.Sha256}\"";
        headers["X-Linked-Size"] = (file.AdvertisedSize ?? file.Size).ToString(System.Globalization.CultureInfo.InvariantCulture);
        headers.ETag = $"\"{file.Sha256[..40]}\"";
        // Storage is another host, as the hub's is: same server, other name.
        var storage = new UriBuilder(Endpoint) { Host = _storageHost, Path = $"cdn/{file.Sha256}/{Uri.EscapeDataString(Path.GetFileName(file.Path))}" };
        return Results.Redirect(storage.Uri.AbsoluteUri);
    }

    private IResult? Refusal(HttpContext context, string owner, string name, string revision, string? path)
    {
        var authorization = context.Request.Headers.Authorization.ToString();
        _hubAuthorizations.Enqueue(authorization.Length > 0 ? authorization : null);
        var authenticated = authorization == $"Bearer {Token}";
        if (!_repositories.TryGetValue($"{owner}/{name}", out var repo) || (repo.Access == RepositoryAccess.Private && !authenticated))
        {
            return HubError(context, StatusCodes.Status401Unauthorized, "RepoNotFound", "Repository not found");
        }
        if (repo.Access == RepositoryAccess.Gated && !authenticated)
        {
            return authorization.Length == 0
                ? HubError(context, StatusCodes.Status401Unauthorized, "GatedRepo", $"Access to model {owner}/{name} is restricted. You must have access to it and be authenticated to access it. Please log in.")
                : HubError(context, StatusCodes.Status403Forbidden, "GatedRepo", $"Access to model {owner}/{name} is restricted and you are not in the authorized list. Visit https://huggingface.co/{owner}/{name} to ask for access.");
        }
        if (revision != "main" && revision != Commit)
        {
            return HubError(context, StatusCodes.Status404NotFound, "RevisionNotFound", $"Invalid rev id: {revision}");
        }
        if (path is not null && !repo.Files.ContainsKey(path))
        {
            return HubError(context, StatusCodes.Status404NotFound, "EntryNotFound", "Entry not found");
        }
        return null;
    }

    private static IResult HubError(HttpContext context, int status, string code, string message)
    {
        context.Response.Headers["X-Error-Code"] = code;
        context.Response.Headers["X-Error-Message"] = message;
        return Results.Json(new JsonObject { ["error"] = message }, statusCode: status);
    }

    private async Task ServeAsync(HttpContext context, string sha256, string fileName)
    {
        var authorization = context.Request.Headers.Authorization.ToString();
        _storageAuthorizations.Enqueue(authorization.Length > 0 ? authorization : null);
        if (!_bySha.TryGetValue(sha256, out var file))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }
        Interlocked.Increment(ref _downloads);
        var range = context.Request.Headers.Range.ToString();
        _ranges.Enqueue(range);

        long start = 0;
        if (!IgnoreRange && range.StartsWith("bytes=", StringComparison.Ordinal) && range.EndsWith('-')
            && long.TryParse(range["bytes=".Length..^1], out var from))
        {
            if (from >= file.Size)
            {
                context.Response.StatusCode = StatusCodes.Status416RangeNotSatisfiable;
                context.Response.Headers.ContentRange = $"bytes */{file.Size}";
                return;
            }
            start = from;
            context.Response.StatusCode = StatusCodes.Status206PartialContent;
            context.Response.Headers.ContentRange = $"bytes {start}-{file.Size - 1}/{file.Size}";
        }
        context.Response.Headers.AcceptRanges = "bytes";
        context.Response.ContentType = "application/octet-stream";
        context.Response.ContentLength = file.Size - start;
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();

        var corrupt = Interlocked.Exchange(ref _corruptNext, 0) == 1;
        var limit = BytesPerSecond;
        // Small writes when the speed is limited, so that a limit or a hold is kept to within a few KB.
        var buffer = new byte[limit > 0 ? 16 << 10 : 1 << 20];
        await using var input = new FileStream(file.LocalPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.Asynchronous | FileOptions.SequentialScan);
        input.Position = start;
        var offset = start;
        var began = System.Diagnostics.Stopwatch.StartNew();
        var sentHere = 0L;
        var abort = context.RequestAborted;
        try
        {
            while (offset < file.Size)
            {
                var count = (int)Math.Min(buffer.Length, file.Size - offset);
                if (HoldAt is { } hold && offset < hold && offset + count > hold)
                {
                    count = (int)(hold - offset);
                }
                else if (HoldAt is { } heldHere && offset == heldHere)
                {
                    await context.Response.Body.FlushAsync(abort);
                    _holding.TrySetResult();
                    await _released.Task.WaitAsync(abort);
                    continue;
                }
                var cut = Interlocked.Read(ref _cutAt);
                if (cut >= 0 && offset + count > cut)
                {
                    count = (int)Math.Max(0, cut - offset);
                }
                var read = await input.ReadAsync(buffer.AsMemory(0, count), abort);
                if (corrupt && offset <= file.Size / 2 && file.Size / 2 < offset + read)
                {
                    buffer[file.Size / 2 - offset] ^= 0xFF;
                    corrupt = false;
                }
                if (read > 0)
                {
                    await context.Response.Body.WriteAsync(buffer.AsMemory(0, read), abort);
                    Interlocked.Add(ref _bytesServed, read);
                }
                offset += read;
                sentHere += read;
                if (cut >= 0 && offset >= cut && Interlocked.CompareExchange(ref _cutAt, -1, cut) == cut)
                {
                    await context.Response.Body.FlushAsync(abort);
                    context.Abort();
                    return;
                }
                if (limit > 0)
                {
                    var due = TimeSpan.FromSeconds((double)sentHere / limit) - began.Elapsed;
                    if (due > TimeSpan.Zero)
                    {
                        await Task.Delay(due, abort);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (abort.IsCancellationRequested)
        {
            // The client left (a cancelled or killed download).
        }
        catch (IOException) when (abort.IsCancellationRequested)
        {
        }
    }

    private static string Sha256Of(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private sealed record HostedFile(string Path, string LocalPath, long Size, string Sha256, long? AdvertisedSize);

    private sealed record Repository(RepositoryAccess Access)
    {
        public ConcurrentDictionary<string, HostedFile> Files { get; } = new(StringComparer.Ordinal);
    }
}

/// <summary>Who may read a repository of the <see cref="LocalHub"/>.</summary>
public enum RepositoryAccess
{
    Public,

    /// <summary>Only with the hub's token; without it the hub answers as for a repository that does not exist (401).</summary>
    Private,

    /// <summary>Only with the token: 401 without one, 403 with another.</summary>
    Gated,
}
