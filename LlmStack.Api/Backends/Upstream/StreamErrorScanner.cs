using System.Text;

namespace LlmStack.Api.Backends.Upstream;

/// <summary>
/// A streamed response body read through unchanged, but for an error event: the OpenAI SDK reads an event without
/// choices as an empty chunk, and would end the reply as if complete, so an error reported mid-stream is found here,
/// in the bytes, once for every HTTP backend. A line that is an error event (<c>data: {"error"...</c>,
/// <c>data: {"object": "error"...</c> or Ollama's <c>{"error"...</c>) is not passed on: the read that reaches it returns
/// the lines before it, and the next one throws <see cref="UpstreamStreamErrorException"/> with the backend's message.
/// </summary>
internal sealed class StreamErrorScanner(Stream inner) : Stream
{
    // An error event is a small object; a longer line is cut here before its message is read.
    private const int MaxErrorLine = 16 * 1024;

    private static readonly byte[][] ErrorStarts =
        [.. new[] { "{\"error\":", "{\"object\":\"error\"", "{\"object\": \"error\"" }.Select(Encoding.UTF8.GetBytes)];

    // The line being read: its first bytes (enough to tell an error event) and, once it is one, all of it.
    private readonly MemoryStream _line = new();
    private bool _lineIsError;
    private bool _lineDecided;
    private UpstreamStreamErrorException? _pending;

    /// <summary>
    /// Whether <paramref name="mediaType"/> is a streamed body this scanner reads: server-sent events (Ollama's
    /// newline-delimited JSON is read line by line by the Ollama backend, which finds its error lines).
    /// </summary>
    public static bool Scans(string? mediaType) => mediaType is "text/event-stream";

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_pending is { } error)
        {
            throw error;
        }
        var read = await inner.ReadAsync(buffer, cancellationToken);
        return Scan(buffer.Span[..read]);
    }

    public override int Read(byte[] buffer, int offset, int count)
    {
        if (_pending is { } error)
        {
            throw error;
        }
        var read = inner.Read(buffer, offset, count);
        return Scan(buffer.AsSpan(offset, read));
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    // The count of bytes to pass on: all of them, or those before an error line that ends in them.
    private int Scan(ReadOnlySpan<byte> bytes)
    {
        var lineStart = 0;
        for (var i = 0; i < bytes.Length; i++)
        {
            if (bytes[i] == (byte)'\n')
            {
                Take(bytes[lineStart..i]);
                if (_lineIsError)
                {
                    var error = new UpstreamStreamErrorException(MessageOf(_line.ToArray()));
                    if (lineStart == 0)
                    {
                        // Nothing before it in this read to pass on (a read of 0 bytes would say the body ended).
                        throw error;
                    }
                    _pending = error;
                    return lineStart;
                }
                _line.SetLength(0);
                _lineDecided = false;
                lineStart = i + 1;
            }
        }
        Take(bytes[lineStart..]);
        if (bytes.Length == 0 && _lineIsError)
        {
            // The body ended on the error line, without its newline.
            throw new UpstreamStreamErrorException(MessageOf(_line.ToArray()));
        }
        return bytes.Length;
    }

    private void Take(ReadOnlySpan<byte> part)
    {
        if (_lineDecided && !_lineIsError)
        {
            return;
        }
        var room = MaxErrorLine - (int)_line.Length;
        _line.Write(part[..Math.Min(part.Length, room)]);
        if (!_lineDecided)
        {
            Decide();
        }
    }

    // Decided once the line holds its payload's first bytes; a line without "data:" is a JSON line (Ollama).
    private void Decide()
    {
        var line = _line.GetBuffer().AsSpan(0, (int)_line.Length);
        var payload = line.StartsWith("data:"u8) ? line[5..].TrimStart((byte)' ') : line;
        if (line.Length < 5 && "data:"u8.StartsWith(line))
        {
            return;
        }
        foreach (var start in ErrorStarts)
        {
            if (payload.Length < start.Length && start.AsSpan().StartsWith(payload))
            {
                return;
            }
            if (payload.StartsWith(start))
            {
                (_lineDecided, _lineIsError) = (true, true);
                return;
            }
        }
        (_lineDecided, _lineIsError) = (true, false);
    }

    private static string MessageOf(byte[] line)
    {
        var text = Encoding.UTF8.GetString(line).TrimEnd('\r');
        var payload = text.StartsWith("data:", StringComparison.Ordinal) ? text[5..].TrimStart(' ') : text;
        return UpstreamHttpException.MessageFrom(payload) ?? payload;
    }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
            _line.Dispose();
        }
        base.Dispose(disposing);
    }

    public override ValueTask DisposeAsync()
    {
        _line.Dispose();
        return inner.DisposeAsync();
    }
}
