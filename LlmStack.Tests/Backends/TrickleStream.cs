namespace LlmStack.Tests.Backends;

/// <summary>A body handed out in reads of <c>size</c> bytes at most, as a network stream hands it out.</summary>
public sealed class TrickleStream(byte[] bytes, int size) : MemoryStream(bytes)
{
    /// <summary>Read sizes from a byte at a time to more than most lines.</summary>
    public static TheoryData<int> ReadSizes => [1, 2, 7, 64, 4096];

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        base.ReadAsync(buffer[..Math.Min(buffer.Length, size)], cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => base.Read(buffer, offset, Math.Min(count, size));

    /// <summary>
    /// Reads <paramref name="stream"/> to its end, or to the first <typeparamref name="TException"/>: the bytes it passed
    /// on, and that exception.
    /// </summary>
    public static async Task<(string Passed, TException? Error)> ReadToEndAsync<TException>(Stream stream, bool sync = false)
        where TException : Exception
    {
        var passed = new MemoryStream();
        var buffer = new byte[4096];
        try
        {
            int read;
            while ((read = sync ? stream.Read(buffer, 0, buffer.Length) : await stream.ReadAsync(buffer, TestContext.Current.CancellationToken)) > 0)
            {
                passed.Write(buffer, 0, read);
            }
            return (System.Text.Encoding.UTF8.GetString(passed.ToArray()), null);
        }
        catch (TException ex)
        {
            return (System.Text.Encoding.UTF8.GetString(passed.ToArray()), ex);
        }
    }
}
