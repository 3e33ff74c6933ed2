using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;

namespace LlmStack.AppHost.Hosting;

/// <summary>
/// The AppHost's <c>Embedded</c> configuration section: the model the API runs in-process when there is no Ollama
/// (<c>Embedded:Model</c>, a Hugging Face source such as <c>hf://Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M</c>).
/// The API downloads, verifies and caches it; without it, the API serves its built-in demo model.
/// </summary>
internal sealed partial record EmbeddedHostingSettings(string? Source)
{
    public const string ModelKey = "Embedded:Model";

    public const string Example = "hf://Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M";

    private const string Scheme = "hf://";

    /// <summary>
    /// The id clients send as <c>model</c>: the source without its scheme and revision (<c>Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M</c>),
    /// as vLLM names a model by its repository.
    /// </summary>
    public string? ModelId => Source is null ? null : Source[Scheme.Length..].Split('@', 2)[0];

    /// <summary>
    /// The dashboard resource's name: the repository's name and the quantization or file
    /// (<c>qwen2-5-0-5b-instruct-gguf-q4-k-m</c>), in the letters, digits and single hyphens resource names allow.
    /// </summary>
    public string? ResourceName
    {
        get
        {
            if (ModelId is not { } id)
            {
                return null;
            }
            var afterOwner = id[(id.IndexOf('/') + 1)..];
            if (afterOwner.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase))
            {
                afterOwner = afterOwner[..^".gguf".Length];
            }
            var name = NonNameCharacters().Replace(afterOwner.ToLowerInvariant(), "-").Trim('-');
            name = name.Length > 60 ? name[..60].TrimEnd('-') : name;
            return char.IsAsciiLetter(name[0]) ? name : $"model-{name}";
        }
    }

    /// <summary>
    /// Reads the section. The AppHost checks only that the value names a hub repository, so that the mistake is
    /// reported under its own key; the API checks the rest (file, quantization, revision) when it starts.
    /// </summary>
    public static EmbeddedHostingSettings Read(IConfiguration configuration)
    {
        if (configuration[ModelKey] is not { } text || string.IsNullOrWhiteSpace(text))
        {
            return new EmbeddedHostingSettings(Source: null);
        }
        var source = text.Trim();
        if (!HubSource().IsMatch(source))
        {
            throw new DistributedApplicationException(
                $"LlmStack cannot start: {ModelKey} '{text}' is not a Hugging Face source: use hf://<owner>/<repo>:<quant> (e.g. {Example}) " +
                "or hf://<owner>/<repo>/<file.gguf>, optionally with @<revision>. A GGUF file already on this machine is the API's " +
                "LlmStack:Models:0:Path (see the README).");
        }
        return new EmbeddedHostingSettings(source);
    }

    /// <summary>Said on the mode line when Ollama runs: the embedded model is the choice for a machine without it.</summary>
    public string ModeKeyNote(string modeKey) =>
        $"{ModelKey} ({Source}) runs in the API only when there is no Ollama ({modeKey}=none).";

    [GeneratedRegex(@"^hf://[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*([:/@][^\s]*)?$")]
    private static partial Regex HubSource();

    [GeneratedRegex("[^a-z0-9]+")]
    private static partial Regex NonNameCharacters();
}
