namespace LlmStack.Web.Accounts;

/// <summary>
/// Holds <c>LlmStack:DataDirectory</c> for this process alone while it runs: two Webs on one directory would share one
/// accounts store, each making its own configured password the administrator's at start, so that sign-in works for
/// one of them at a time. The second stops at start instead, naming the directory. The operating system releases the
/// lock when the process ends, however it ends.
/// </summary>
internal sealed class DataDirectoryLock(WebDataDirectory data) : IHostedService, IDisposable
{
    private FileStream? _lock;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            // FileShare.None is an exclusive advisory lock (flock) on Unix, a sharing mode on Windows.
            _lock = new FileStream(data.LockFile, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException ex)
        {
            throw new InvalidOperationException(
                $"{WebDataDirectory.ConfigurationKey} '{data.Path}' is in use by another LlmStack.Web ({ex.Message}). " +
                "Each Web needs a data directory of its own: its accounts store and keys cannot be shared " +
                "(the AppHost's Web:DataDirectory chooses it for a second AppHost on the same checkout).", ex);
        }
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        Dispose();
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        _lock?.Dispose();
        _lock = null;
    }
}
