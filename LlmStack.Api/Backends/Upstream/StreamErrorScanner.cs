using System.Text;

namespace LlmStack.Api.Backends.Upstream;

/// <summary>
/// A streamed response body read through unchanged, but for an error event: the OpenAI SDK reads an event without
/// choices as an empty chunk, and would end the reply as if complete, so an error reported mid-stream is found here,
/// in the bytes, once for every HTTP backend. A line that is an error event (<c>data: {"error"...</c>,
/// <c>data: {"object": "error"...</c> or Ollama's <c>{"error"...</c>) is not passed on: the read that reaches it returns
/// the lines before it, and the next one throws <see cref="UpstreamStreamErrorException"/> with the backend's message.
/// </summary>
internal sealed class StreamErrorScanner(Stream inner) : LineScanningStream(inner, MaxErrorLine)
{
    // An error event is a small object; a longer line is cut here before its message is read.
    private const int MaxErrorLine = 16 * 1024;

    private static readonly byte[][] ErrorStarts =
        [.. new[] { "{\"error\":", "{\"object\":\"error\"", "{\"object\": \"error\"" }.Select(Encoding.UTF8.GetBytes)];

    /// <summary>
    /// Whether <paramref name="mediaType"/> is a streamed body this scanner reads: server-sent events (Ollama's
    /// newline-delimited JSON is read line by line by the Ollama backend, which finds its error lines).
    /// </summary>
    public static bool Scans(string? mediaType) => mediaType is "text/event-stream";

    // Told once the line holds its payload's first bytes; a line without "data:" is a JSON line (Ollama).
    protected override bool? WantsLine(ReadOnlySpan<byte> start)
    {
        if (start.Length < 5 && "data:"u8.StartsWith(start))
        {
            return null;
        }
        var payload = start.StartsWith("data:"u8) ? start[5..].TrimStart((byte)' ') : start;
        foreach (var errorStart in ErrorStarts)
        {
            if (payload.Length < errorStart.Length && errorStart.AsSpan().StartsWith(payload))
            {
                return null;
            }
            if (payload.StartsWith(errorStart))
            {
                return true;
            }
        }
        return false;
    }

    // Only error events are asked for: each one ends the body.
    protected override Exception OnLine(ReadOnlySpan<byte> line) => new UpstreamStreamErrorException(MessageOf(line));

    private static string MessageOf(ReadOnlySpan<byte> line)
    {
        var text = Encoding.UTF8.GetString(line).TrimEnd('\r');
        var payload = text.StartsWith("data:", StringComparison.Ordinal) ? text[5..].TrimStart(' ') : text;
        return UpstreamHttpException.MessageFrom(payload) ?? payload;
    }
}
