using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace LlmStack.Api.Backends.Embedded.Hub;

/// <summary>One file of a hub repository at one commit: what the download fetches and verifies.</summary>
/// <param name="Path">Its path in the repository.</param>
/// <param name="Size">Its size in bytes (<c>X-Linked-Size</c>).</param>
/// <param name="Sha256">The SHA-256 the hub publishes for it, lower-case hex (the LFS object id, <c>X-Linked-Etag</c>).</param>
/// <param name="Commit">The commit the revision pointed at (<c>X-Repo-Commit</c>), so every byte comes from one version.</param>
internal sealed record HubFile(string Path, long Size, string Sha256, string Commit);

/// <summary>
/// The few calls of the Hugging Face hub's HTTP API a download needs, as huggingface_hub and llama.cpp make them:
/// <c>GET /api/models/{repo}/tree/{revision}?recursive=true</c> (the files, to choose one by quantization),
/// <c>HEAD /{repo}/resolve/{revision}/{file}</c> without following the redirect (the file's size, SHA-256 and
/// commit from <c>X-Linked-Size</c>, <c>X-Linked-Etag</c>, <c>X-Repo-Commit</c>), and <c>GET</c> of the same with
/// <c>Range</c>, following the redirect to the storage host by hand - the token goes to the hub only, never to
/// the host a redirect names. Failures become <see cref="HubException"/>s that name the repository and what to do.
/// </summary>
internal sealed partial class HubClient(HttpClient http, HubSettings settings)
{
    /// <summary>The hub's own redirects (a renamed repository) and the one to its storage host, at most.</summary>
    private const int MaxRedirects = 5;

    /// <summary>Pages of a repository's file list (1,000 entries each at the hub); past it the list is cut.</summary>
    private const int MaxTreePages = 20;

    public HubSettings Settings => settings;

    /// <summary>Every file of the repository at the source's revision (paths, recursively).</summary>
    public async Task<IReadOnlyList<string>> ListFilesAsync(HubModelSource source, CancellationToken cancellationToken)
    {
        var files = new List<string>();
        Uri? next = new(settings.Endpoint, $"api/models/{source.Owner}/{source.Name}/tree/{Uri.EscapeDataString(source.Revision)}?recursive=true");
        for (var page = 0; next is not null && page < MaxTreePages; page++)
        {
            using var request = Request(HttpMethod.Get, next);
            using var response = await SendAsync(request, source, "list the files of", cancellationToken);
            await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
            JsonDocument document;
            try
            {
                document = await JsonDocument.ParseAsync(body, cancellationToken: cancellationToken);
            }
            catch (JsonException ex)
            {
                throw new HubException($"The hub at {settings.Endpoint} answered the file list of {source.Repository} with something that is not JSON ({ex.Message}); check {HubSettings.EndpointKey}.", transient: false, ex);
            }
            using (document)
            {
                if (document.RootElement.ValueKind != JsonValueKind.Array)
                {
                    throw new HubException($"The hub at {settings.Endpoint} answered the file list of {source.Repository} with JSON that is not a list; check {HubSettings.EndpointKey}.", transient: false);
                }
                foreach (var entry in document.RootElement.EnumerateArray())
                {
                    if (entry.ValueKind == JsonValueKind.Object
                        && entry.TryGetProperty("type", out var type) && type.ValueEquals("file")
                        && entry.TryGetProperty("path", out var path) && path.ValueKind == JsonValueKind.String)
                    {
                        files.Add(path.GetString()!);
                    }
                }
            }
            next = NextPage(response, next);
        }
        return files;
    }

    /// <summary>
    /// The file's size, SHA-256 and commit, from the headers of its resolve URL (the redirect to storage is not followed).
    /// </summary>
    public async Task<HubFile> DescribeAsync(HubModelSource source, string path, CancellationToken cancellationToken)
    {
        var url = ResolveUrl(source, source.Revision, path);
        for (var hop = 0; ; hop++)
        {
            using var request = Request(HttpMethod.Head, url);
            // The size of the file, not of a compressed form of it.
            request.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue("identity"));
            using var response = await SendAsync(request, source, $"find {path} in", cancellationToken, allowRedirect: true);
            var headers = response.Headers;
            var linked = Header(headers, "X-Linked-Etag") ?? Header(headers, "ETag");
            var sha256 = linked?.Trim().TrimStart('W', '/').Trim('"').ToLowerInvariant();
            var commit = Header(headers, "X-Repo-Commit");
            if (IsRedirect(response.StatusCode) && response.Headers.Location is { } location && sha256 is null)
            {
                // A redirect without the file's headers: the hub's own (a renamed repository); ask again there.
                url = new Uri(url, location);
                if (hop >= MaxRedirects || !SameHost(url, settings.Endpoint))
                {
                    throw new HubException($"The hub at {settings.Endpoint} redirected {source.Repository}/{path} without telling its size and SHA-256; check {HubSettings.EndpointKey}.", transient: false);
                }
                continue;
            }
            var sizeText = Header(headers, "X-Linked-Size") ?? response.Content.Headers.ContentLength?.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (sha256 is null || !Sha256Pattern().IsMatch(sha256))
            {
                throw new HubException(
                    $"The hub at {settings.Endpoint} publishes no SHA-256 for {path} of {source.Repository} (no X-Linked-Etag with an LFS object id): LlmStack only runs a file it can verify. GGUF files on huggingface.co are LFS files; a mirror must pass their X-Linked-Etag on.",
                    transient: false);
            }
            if (!long.TryParse(sizeText, out var size) || size <= 0)
            {
                throw new HubException($"The hub at {settings.Endpoint} tells no size for {path} of {source.Repository} (X-Linked-Size).", transient: false);
            }
            return new HubFile(path, size, sha256, commit is { Length: > 0 } ? commit : source.Revision);
        }
    }

    /// <summary>
    /// The file's bytes from <paramref name="offset"/> on: the resolve URL at the file's commit, with
    /// <c>Range: bytes=offset-</c>, its redirects followed. The response is 206 (the rest), 200 (the whole file:
    /// the server ignored the range) or 416 (nothing is left); the caller reads and disposes it.
    /// </summary>
    public async Task<HttpResponseMessage> OpenAsync(HubModelSource source, HubFile file, long offset, CancellationToken cancellationToken)
    {
        var url = ResolveUrl(source, file.Commit, file.Path);
        for (var hop = 0; ; hop++)
        {
            using var request = Request(HttpMethod.Get, url, withToken: SameHost(url, settings.Endpoint));
            if (offset > 0)
            {
                request.Headers.Range = new RangeHeaderValue(offset, null);
            }
            request.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue("identity"));
            var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            if (IsRedirect(response.StatusCode) && response.Headers.Location is { } location)
            {
                response.Dispose();
                if (hop >= MaxRedirects)
                {
                    throw new HubException($"Downloading {file.Path} of {source.Repository} was redirected more than {MaxRedirects} times.", transient: true);
                }
                url = new Uri(url, location);
                continue;
            }
            if (response.IsSuccessStatusCode || response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
            {
                return response;
            }
            using (response)
            {
                throw await FailureAsync(response, source, $"download {file.Path} of");
            }
        }
    }

    private Uri ResolveUrl(HubModelSource source, string revision, string path) =>
        new(settings.Endpoint,
            $"{source.Owner}/{source.Name}/resolve/{Uri.EscapeDataString(revision)}/{string.Join('/', path.Split('/').Select(Uri.EscapeDataString))}");

    private HttpRequestMessage Request(HttpMethod method, Uri url, bool withToken = true)
    {
        var request = new HttpRequestMessage(method, url);
        request.Headers.UserAgent.Add(new ProductInfoHeaderValue("LlmStack", typeof(HubClient).Assembly.GetName().Version?.ToString(3) ?? "0"));
        if (withToken && settings.Token is { } token)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        return request;
    }

    private async Task<HttpResponseMessage> SendAsync(
        HttpRequestMessage request, HubModelSource source, string what, CancellationToken cancellationToken, bool allowRedirect = false)
    {
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        }
        catch (HttpRequestException ex)
        {
            throw new HubException($"The hub at {settings.Endpoint} could not be reached to {what} {source.Repository}: {ex.Message}", transient: true, ex);
        }
        if (response.IsSuccessStatusCode || (allowRedirect && IsRedirect(response.StatusCode)))
        {
            return response;
        }
        using (response)
        {
            throw await FailureAsync(response, source, what);
        }
    }

    /// <summary>What a refusal of the hub means and what to do about it (huggingface_hub's X-Error-Code values).</summary>
    private async Task<HubException> FailureAsync(HttpResponseMessage response, HubModelSource source, string what)
    {
        var status = (int)response.StatusCode;
        var code = Header(response.Headers, "X-Error-Code");
        var said = Header(response.Headers, "X-Error-Message") ?? await ErrorBodyAsync(response);
        var saidPart = said is { Length: > 0 } ? $" ({said})" : "";
        var page = new Uri(settings.Endpoint, source.Repository);
        var token = settings.Token is null
            ? $"no {HubSettings.TokenKey} is set"
            : $"the {HubSettings.TokenKey} that is set was not accepted for it";
        var refused = $"The hub at {settings.Endpoint} refused to {what} {source.Repository}";
        return response.StatusCode switch
        {
            HttpStatusCode.Unauthorized => new HubException(
                $"{refused}: 401{saidPart}. The repository does not exist, or it is private or gated and {token}. Check the name at {page}; for a private or gated repository set {HubSettings.TokenKey} to a token that can read it (huggingface.co/settings/tokens).",
                transient: false),
            HttpStatusCode.Forbidden => new HubException(
                $"{refused}: 403{saidPart}. Access to {source.Repository} is restricted (gated) and {token}: accept its conditions at {page} with your account, and set {HubSettings.TokenKey} to a token of that account.",
                transient: false),
            HttpStatusCode.NotFound => new HubException(code switch
            {
                "RevisionNotFound" => $"{refused}: 404{saidPart}. {source.Repository} has no revision '{source.Revision}': check the @revision of the source (a branch, tag or commit at {page}).",
                "EntryNotFound" => $"{refused}: 404{saidPart}. The file is not in {source.Repository} at '{source.Revision}': check the file name at {page}/tree/{source.Revision}.",
                _ => $"{refused}: 404{saidPart}. Check the repository and file names at {page} (the source is {source}).",
            }, transient: false),
            HttpStatusCode.TooManyRequests or HttpStatusCode.RequestTimeout or HttpStatusCode.BadGateway or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout
                or HttpStatusCode.InternalServerError => new HubException($"{refused}: {status}{saidPart}.", transient: true)
            {
                RetryAfter = response.Headers.RetryAfter?.Delta
                    ?? (response.Headers.RetryAfter?.Date is { } date ? date - DateTimeOffset.UtcNow : null),
            },
            _ => new HubException($"{refused}: {status}{saidPart}.", transient: status >= 500),
        };
    }

    private static async Task<string?> ErrorBodyAsync(HttpResponseMessage response)
    {
        try
        {
            using var bounded = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            var text = await response.Content.ReadAsStringAsync(bounded.Token);
            if (text.Length > 2000)
            {
                text = text[..2000];
            }
            using var document = JsonDocument.Parse(text);
            return document.RootElement.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.String ? error.GetString() : null;
        }
        catch (Exception ex) when (ex is JsonException or HttpRequestException or OperationCanceledException or IOException)
        {
            return null;
        }
    }

    private static Uri? NextPage(HttpResponseMessage response, Uri current)
    {
        // The hub pages long lists: Link: <https://.../tree/main?cursor=...>; rel="next"
        if (!response.Headers.TryGetValues("Link", out var links))
        {
            return null;
        }
        foreach (var link in links)
        {
            if (NextLink().Match(link) is { Success: true } match && Uri.TryCreate(current, match.Groups[1].Value, out var next))
            {
                return next;
            }
        }
        return null;
    }

    private static string? Header(HttpResponseHeaders headers, string name) =>
        headers.TryGetValues(name, out var values) ? values.FirstOrDefault() : null;

    private static bool IsRedirect(HttpStatusCode status) => (int)status is 301 or 302 or 303 or 307 or 308;

    private static bool SameHost(Uri a, Uri b) =>
        string.Equals(a.Host, b.Host, StringComparison.OrdinalIgnoreCase) && a.Port == b.Port && a.Scheme == b.Scheme;

    [GeneratedRegex("^[0-9a-f]{64}$")]
    private static partial Regex Sha256Pattern();

    [GeneratedRegex("<([^>]+)>\\s*;\\s*rel=\"?next\"?", RegexOptions.IgnoreCase)]
    private static partial Regex NextLink();
}
