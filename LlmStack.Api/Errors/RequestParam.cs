using System.Globalization;

namespace LlmStack.Api.Errors;

/// <summary>
/// How an error's <c>param</c> names a place inside a request: <c>response_format.json_schema.schema.properties.name</c>,
/// <c>tools[0].function.parameters.prefixItems[3]</c>, <c>...properties['odd name']</c>.
/// </summary>
internal static class RequestParam
{
    // Keywords whose value is a list of schemas: a number after them is an index.
    private static readonly HashSet<string> Lists = new(StringComparer.Ordinal) { "anyOf", "oneOf", "allOf", "prefixItems", "items", "enum" };

    /// <summary>The member <paramref name="name"/> of <paramref name="path"/>: <c>.name</c>, or <c>['odd name']</c> when it is not a plain word.</summary>
    public static string Member(string path, string name)
    {
        foreach (var c in name)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('_' or '-' or '$'))
            {
                return $"{path}['{name.Replace("'", "\\'", StringComparison.Ordinal)}']";
            }
        }
        return name.Length > 0 ? $"{path}.{name}" : $"{path}['']";
    }

    /// <summary>
    /// The place a JSON pointer into a schema (<c>#/properties/a~1b/items</c>, as the schema converter reports it) names
    /// inside the request, the schema being at <paramref name="schemaParam"/>.
    /// </summary>
    public static string OfPointer(string schemaParam, string pointer)
    {
        var path = schemaParam;
        var previous = "";
        foreach (var raw in pointer.TrimStart('#').Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            var segment = raw.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);
            path = Lists.Contains(previous) && int.TryParse(segment, NumberStyles.None, CultureInfo.InvariantCulture, out var index)
                ? $"{path}[{index.ToString(CultureInfo.InvariantCulture)}]"
                : Member(path, segment);
            previous = segment;
        }
        return path;
    }
}
