extern alias apphost;

using apphost::LlmStack.AppHost.Hosting;

namespace LlmStack.Tests.Fixtures;

/// <summary>
/// A Web data directory (accounts, keys) of one AppHost run's own. Test classes start AppHosts side by side; on the
/// Web's default directory they would share one accounts store, each setting its own administrator password - and
/// the Web now refuses a directory another Web holds. Every AppHost a test starts passes <see cref="Argument"/>.
/// </summary>
public sealed class AppHostWebData : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("llmstack-apphost-web-").FullName;

    /// <summary>The AppHost argument that gives the Web <see cref="Path"/>.</summary>
    public string Argument => $"--{WebSignInExtensions.DataDirectoryKey}={Path}";

    public void Dispose()
    {
        // The Web has stopped by now; its SQLite files go with the folder.
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A process of the run that is still exiting may hold a file; a leftover temp folder harms nothing.
        }
    }
}
