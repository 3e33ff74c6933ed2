namespace LlmStack.Api.Backends.Embedded.Hub;

/// <summary>
/// The folder downloaded models live in (<c>LlmStack:ModelCache</c>; default <c>llmstack/models</c> under the
/// user's cache directory: <c>$XDG_CACHE_HOME</c> or <c>~/.cache</c> on Linux, <c>~/Library/Caches</c> on macOS,
/// <c>%LOCALAPPDATA%</c> on Windows). A file is kept by its SHA-256:
/// <c>hf/&lt;owner&gt;/&lt;repo&gt;/&lt;sha256&gt;/&lt;file.gguf&gt;</c>, beside its <c>.partial</c> while it downloads and the
/// <c>.lock</c> its downloader holds; what a source resolved to last is kept in <c>sources/</c>, so a restart
/// without a network still finds its file.
/// </summary>
internal sealed class ModelCache(string root)
{
    public string Root { get; } = Path.GetFullPath(root);

    /// <summary>The default cache folder of this user on this operating system.</summary>
    public static string DefaultRoot()
    {
        string cache;
        if (OperatingSystem.IsWindows())
        {
            cache = Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData);
        }
        else if (OperatingSystem.IsMacOS())
        {
            cache = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), "Library", "Caches");
        }
        else
        {
            cache = Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg && Path.IsPathRooted(xdg)
                ? xdg
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        }
        return Path.Combine(cache, "llmstack", "models");
    }

    /// <summary>The folder of one verified file (named by its SHA-256, so two versions never mix).</summary>
    public string FolderOf(HubModelSource source, HubFile file) => Path.Combine(RepositoryFolder(source), file.Sha256);

    /// <summary>Where the verified file is.</summary>
    public string PathOf(HubModelSource source, HubFile file) => Path.Combine(FolderOf(source, file), Path.GetFileName(file.Path));

    /// <summary>The bytes downloaded so far, not yet verified.</summary>
    public string PartialPathOf(HubModelSource source, HubFile file) => PathOf(source, file) + ".partial";

    /// <summary>The lock its downloader holds (a process that dies releases it).</summary>
    public string LockPathOf(HubModelSource source, HubFile file) => Path.Combine(FolderOf(source, file), ".lock");

    /// <summary>What <paramref name="source"/> resolved to the last time it was downloaded.</summary>
    public string RecordPathOf(HubModelSource source) =>
        Path.Combine(RepositoryFolder(source), "sources", string.Concat(source.ToString()[HubModelSource.Scheme.Length..]
            .Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_' ? c : '~')) + ".json");

    private string RepositoryFolder(HubModelSource source) => Path.Combine(Root, "hf", source.Owner, source.Name);
}
