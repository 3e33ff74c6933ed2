using System.Buffers;

namespace LlmStack.Api.Backends;

/// <summary>
/// A response body read through unchanged while its lines are watched: each line (ended by <c>\n</c>, or by the end
/// of the body) that <see cref="WantsLine"/> asks for is shown to <see cref="OnLine"/>, which can end the body there.
/// The bytes are read into the reader's own buffer and looked at where they lie; a line is copied only when it spans
/// reads and is asked for, or while its first bytes are too few to tell.
/// </summary>
internal abstract class LineScanningStream(Stream inner, int maxLineBytes = int.MaxValue) : Stream
{
    // The current line's bytes from earlier reads, while it is asked for or not yet told (its first maxLineBytes).
    private readonly ArrayBufferWriter<byte> _held = new();
    private bool _inLine;
    private bool? _wanted;
    private Exception? _failure;

    /// <summary>
    /// Whether <see cref="OnLine"/> is to see the line that starts with <paramref name="start"/> (the line's bytes read
    /// so far, <c>maxLineBytes</c> at most); null while they are too few to tell, which at the line's end means no.
    /// </summary>
    protected abstract bool? WantsLine(ReadOnlySpan<byte> start);

    /// <summary>
    /// A line asked for, without its <c>\n</c> (its first <c>maxLineBytes</c>). An exception returned ends the body
    /// before this line: the read passes on the bytes before it, and the next read throws it (this one, when nothing
    /// precedes the line in it). An exception thrown fails this read. Either way every later read throws it.
    /// </summary>
    protected abstract Exception? OnLine(ReadOnlySpan<byte> line);

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ThrowIfFailed();
        var read = await inner.ReadAsync(buffer, cancellationToken);
        return Scan(buffer.Span[..read], atEnd: read == 0 && !buffer.IsEmpty);
    }

    public override int Read(byte[] buffer, int offset, int count)
    {
        ThrowIfFailed();
        var read = inner.Read(buffer, offset, count);
        return Scan(buffer.AsSpan(offset, read), atEnd: read == 0 && count > 0);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    private void ThrowIfFailed()
    {
        if (_failure is { } failure)
        {
            throw failure;
        }
    }

    // The count of bytes to pass on: all of them, or those before a line that ended the body.
    private int Scan(ReadOnlySpan<byte> bytes, bool atEnd)
    {
        if (atEnd)
        {
            // The body's last line, ended without its \n.
            if (_inLine && EndLine([]) is { } last)
            {
                _failure = last;
                throw last;
            }
            return 0;
        }
        var lineStart = 0;
        while (bytes[lineStart..].IndexOf((byte)'\n') is var length and >= 0)
        {
            if (EndLine(bytes.Slice(lineStart, length)) is { } failure)
            {
                _failure = failure;
                if (lineStart == 0)
                {
                    // Nothing before the line in this read to pass on (a read of 0 bytes would say the body ended).
                    throw failure;
                }
                return lineStart;
            }
            lineStart += length + 1;
        }
        ContinueLine(bytes[lineStart..]);
        return bytes.Length;
    }

    // The current line ends with tail, its part in this read: what OnLine makes of it, when asked for.
    private Exception? EndLine(ReadOnlySpan<byte> tail)
    {
        if (!_inLine)
        {
            // All of the line is in this read: seen where it lies.
            var line = Cut(tail);
            return WantsLine(line) == true ? See(line) : null;
        }
        if (_wanted != false)
        {
            Hold(tail);
            _wanted ??= WantsLine(_held.WrittenSpan);
        }
        var failure = _wanted == true ? See(_held.WrittenSpan) : null;
        _held.ResetWrittenCount();
        (_inLine, _wanted) = (false, null);
        return failure;
    }

    // The current line goes on past this read, with part.
    private void ContinueLine(ReadOnlySpan<byte> part)
    {
        if (part.IsEmpty)
        {
            return;
        }
        if (!_inLine)
        {
            // Told from this read's bytes where they can be, so that a line not asked for is never copied.
            _inLine = true;
            _wanted = WantsLine(Cut(part));
            if (_wanted != false)
            {
                Hold(part);
            }
        }
        else if (_wanted != false)
        {
            Hold(part);
            _wanted ??= WantsLine(_held.WrittenSpan);
        }
    }

    private void Hold(ReadOnlySpan<byte> part) => _held.Write(part[..Math.Min(part.Length, maxLineBytes - _held.WrittenCount)]);

    private ReadOnlySpan<byte> Cut(ReadOnlySpan<byte> line) => line[..Math.Min(line.Length, maxLineBytes)];

    private Exception? See(ReadOnlySpan<byte> line)
    {
        try
        {
            return OnLine(line);
        }
        catch (Exception thrown)
        {
            _failure = thrown;
            throw;
        }
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
        }
        base.Dispose(disposing);
    }

    public override ValueTask DisposeAsync() => inner.DisposeAsync();
}
