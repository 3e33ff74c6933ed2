using System.Globalization;
using System.Text;

namespace LlmStack.Api.Endpoints;

/// <summary>
/// The paths System.Text.Json reports (<c>$.messages[1].role</c>, <c>$['odd.key']</c>) as segments, and the
/// form error messages name a field by (<c>messages[1].role</c>).
/// </summary>
internal static class JsonPath
{
    /// <summary>A property name, or an array index when <see cref="Name"/> is null.</summary>
    public readonly record struct Segment(string? Name, int Index);

    public static IReadOnlyList<Segment> Parse(string? path)
    {
        var segments = new List<Segment>();
        if (string.IsNullOrEmpty(path))
        {
            return segments;
        }
        var i = path[0] == '$' ? 1 : 0;
        while (i < path.Length)
        {
            if (path[i] == '.')
            {
                var end = path.IndexOfAny(['.', '['], i + 1);
                end = end < 0 ? path.Length : end;
                segments.Add(new Segment(path[(i + 1)..end], 0));
                i = end;
            }
            else if (path.AsSpan(i).StartsWith("['"))
            {
                var end = path.IndexOf("']", i + 2, StringComparison.Ordinal);
                end = end < 0 ? path.Length : end;
                segments.Add(new Segment(path[(i + 2)..end], 0));
                i = end + 2;
            }
            else if (path[i] == '[')
            {
                var end = path.IndexOf(']', i + 1);
                end = end < 0 ? path.Length : end;
                if (!int.TryParse(path.AsSpan(i + 1, end - i - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var index))
                {
                    break;
                }
                segments.Add(new Segment(null, index));
                i = end + 1;
            }
            else
            {
                break;
            }
        }
        return segments;
    }

    public static string Format(IReadOnlyList<Segment> path)
    {
        var text = new StringBuilder();
        foreach (var segment in path)
        {
            if (segment.Name is { } name)
            {
                text.Append(text.Length == 0 ? "" : ".").Append(name);
            }
            else
            {
                text.Append('[').Append(segment.Index.ToString(CultureInfo.InvariantCulture)).Append(']');
            }
        }
        return text.ToString();
    }
}
