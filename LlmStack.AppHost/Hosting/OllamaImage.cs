using System.Text.RegularExpressions;
using LlmStack.AppHost.Ollama;

namespace LlmStack.AppHost.Hosting;

/// <summary>
/// The image the Ollama container runs (<c>Ollama:Image</c>, <c>Ollama:ImageTag</c>): by default the pinned
/// <c>docker.io/ollama/ollama</c>; configurable so that a mirror, or a test's stand-in, can take its place.
/// </summary>
internal sealed partial record OllamaImage(string Registry, string Name, string Tag)
{
    public static OllamaImage Default { get; } = new(OllamaContainerImageTags.Registry, OllamaContainerImageTags.Image, OllamaContainerImageTags.Tag);

    /// <summary>The reference a runtime pulls: <c>docker.io/ollama/ollama:0.13.0</c>.</summary>
    public string Reference => $"{Registry}/{Name}:{Tag}";

    /// <summary>
    /// Reads <c>name</c> or <c>registry/name</c> (the first segment is a registry when it has a dot, a port or is
    /// localhost, as Docker reads it); a <c>:tag</c> suffix overrides <paramref name="tag"/>. Null when malformed.
    /// </summary>
    public static OllamaImage? Parse(string text, string tag)
    {
        var match = ImageReference().Match(text);
        if (!match.Success)
        {
            return null;
        }
        var name = match.Groups["name"].Value;
        var segments = name.Split('/', 2);
        var hasRegistry = segments.Length == 2 && (segments[0].Contains('.') || segments[0].Contains(':') || segments[0] == "localhost");
        return new OllamaImage(
            hasRegistry ? segments[0] : "docker.io",
            hasRegistry ? segments[1] : name,
            match.Groups["tag"].Success ? match.Groups["tag"].Value : tag);
    }

    [GeneratedRegex(@"^(?<name>[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*)(?::(?<tag>[A-Za-z0-9_][A-Za-z0-9._-]{0,127}))?$")]
    private static partial Regex ImageReference();
}
