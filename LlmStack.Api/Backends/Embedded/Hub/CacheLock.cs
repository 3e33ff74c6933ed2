namespace LlmStack.Api.Backends.Embedded.Hub;

/// <summary>
/// An exclusive lock on a cache file shared by every process that uses the cache (several API replicas on one
/// host or one volume): a file opened with <see cref="FileShare.None"/>, which .NET turns into <c>flock</c> on
/// Unix and a sharing lock on Windows. The kernel releases it when its process dies, so a killed downloader never
/// leaves a stale lock behind.
/// </summary>
internal sealed class CacheLock : IDisposable
{
    private readonly FileStream _file;

    private CacheLock(FileStream file) => _file = file;

    /// <summary>The lock, or null when another process (or another download in this one) holds it.</summary>
    public static CacheLock? TryAcquire(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        try
        {
            return new CacheLock(new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, bufferSize: 1, FileOptions.None));
        }
        catch (IOException)
        {
            return null;
        }
    }

    public void Dispose() => _file.Dispose();
}
