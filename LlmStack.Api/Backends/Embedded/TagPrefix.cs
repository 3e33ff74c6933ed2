namespace LlmStack.Api.Backends.Embedded;

/// <summary>For parsers of streamed text: how much of a buffer's end may be the beginning of a tag, and so must wait for more text.</summary>
internal static class TagPrefix
{
    /// <summary>The length of the longest end of <paramref name="buffer"/> that begins <paramref name="tag"/> (0 if none).</summary>
    public static int HeldBack(string buffer, string tag)
    {
        for (var length = Math.Min(tag.Length - 1, buffer.Length); length > 0; length--)
        {
            if (buffer.AsSpan(buffer.Length - length).SequenceEqual(tag.AsSpan(0, length)))
            {
                return length;
            }
        }
        return 0;
    }
}
