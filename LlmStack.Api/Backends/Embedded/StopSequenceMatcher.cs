namespace LlmStack.Api.Backends.Embedded;

/// <summary>
/// Cuts streamed text at the first stop sequence. Text that could be the start of a stop sequence is held
/// back until it is known not to be one, so a stop string never reaches the client, even split over tokens.
/// </summary>
internal sealed class StopSequenceMatcher(IEnumerable<string>? stopSequences)
{
    private readonly string[] _stops = stopSequences?.Where(s => s.Length > 0).Distinct(StringComparer.Ordinal).ToArray() ?? [];
    private string _pending = "";

    /// <summary>True once a stop sequence was seen; later text is ignored.</summary>
    public bool Stopped { get; private set; }

    /// <summary>Adds decoded text; returns the text that can be sent now.</summary>
    public string Push(string text)
    {
        if (Stopped)
        {
            return "";
        }
        if (_stops.Length == 0)
        {
            return text;
        }
        var buffer = _pending + text;
        var cut = -1;
        foreach (var stop in _stops)
        {
            var index = buffer.IndexOf(stop, StringComparison.Ordinal);
            if (index >= 0 && (cut < 0 || index < cut))
            {
                cut = index;
            }
        }
        if (cut >= 0)
        {
            Stopped = true;
            _pending = "";
            return buffer[..cut];
        }
        var held = HeldBack(buffer);
        _pending = buffer[^held..];
        return buffer[..^held];
    }

    /// <summary>The text still held back when generation ends without a stop sequence.</summary>
    public string Flush()
    {
        var rest = Stopped ? "" : _pending;
        _pending = "";
        return rest;
    }

    // The longest end of the buffer that begins some stop sequence.
    private int HeldBack(string buffer)
    {
        var longest = 0;
        foreach (var stop in _stops)
        {
            for (var length = Math.Min(stop.Length - 1, buffer.Length); length > longest; length--)
            {
                if (buffer.AsSpan(buffer.Length - length).SequenceEqual(stop.AsSpan(0, length)))
                {
                    longest = length;
                    break;
                }
            }
        }
        return longest;
    }
}
