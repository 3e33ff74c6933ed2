namespace LlmStack.Web.Accounts;

/// <summary>
/// <c>LlmStack:DataDirectory</c>: where the Web keeps what must outlive a restart - the accounts (<c>users.db</c>) and
/// ASP.NET Core's Data Protection keys (<c>keys/</c>), which sign the session cookies and encrypt each person's
/// conversations in their browser. Relative paths are under the content root; the default is <c>data</c> there.
/// In compose it is the <c>web-data</c> volume. One Web at a time uses it (<see cref="DataDirectoryLock"/>). Losing it signs everyone out and makes stored conversations unreadable.
/// </summary>
public sealed class WebDataDirectory
{
    public const string ConfigurationKey = "LlmStack:DataDirectory";

    private WebDataDirectory(string path) => Path = path;

    public string Path { get; }

    public string UsersDatabase => System.IO.Path.Combine(Path, "users.db");

    public string Keys => System.IO.Path.Combine(Path, "keys");

    /// <summary>Held by the running Web (<see cref="DataDirectoryLock"/>): one Web per directory.</summary>
    public string LockFile => System.IO.Path.Combine(Path, ".lock");

    /// <summary>Resolves the directory and creates it, naming the key when it cannot be created.</summary>
    public static WebDataDirectory Create(IConfiguration configuration, IHostEnvironment environment)
    {
        var configured = configuration[ConfigurationKey] is { Length: > 0 } value ? value : "data";
        var path = System.IO.Path.GetFullPath(configured, environment.ContentRootPath);
        try
        {
            Directory.CreateDirectory(path);
            Directory.CreateDirectory(System.IO.Path.Combine(path, "keys"));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException(
                $"{ConfigurationKey} '{path}' cannot be created or written ({ex.Message}); point it at a writable folder (in a container: a volume).", ex);
        }
        return new WebDataDirectory(path);
    }
}
