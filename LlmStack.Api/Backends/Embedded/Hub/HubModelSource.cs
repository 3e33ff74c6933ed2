using System.Diagnostics.CodeAnalysis;
using System.Text.RegularExpressions;

namespace LlmStack.Api.Backends.Embedded.Hub;

/// <summary>
/// A GGUF model named by where it lives on a Hugging Face hub (<c>LlmStack:Models:&lt;n&gt;:Source</c>):
/// <list type="bullet">
/// <item><c>hf://&lt;owner&gt;/&lt;repo&gt;/&lt;file.gguf&gt;</c> - that file (it may sit in a folder of the repository);</item>
/// <item><c>hf://&lt;owner&gt;/&lt;repo&gt;:&lt;quant&gt;</c> - the repository's file of that quantization (e.g. <c>Q4_K_M</c>),
/// chosen as llama-server's <c>-hf owner/repo:quant</c> chooses it;</item>
/// <item><c>hf://&lt;owner&gt;/&lt;repo&gt;</c> - Q4_K_M, else Q8_0, else the first model file (llama-server's default);</item>
/// </list>
/// each optionally ending in <c>@&lt;revision&gt;</c> (a branch, tag or commit; default <c>main</c>).
/// </summary>
internal sealed partial record HubModelSource(string Owner, string Name, string? File, string? Quantization, string Revision)
{
    public const string Scheme = "hf://";

    public const string DefaultRevision = "main";

    /// <summary>What a source looks like, for messages.</summary>
    public const string Forms = "hf://<owner>/<repo>/<file.gguf>, hf://<owner>/<repo>:<quant> or hf://<owner>/<repo>, each optionally with @<revision>";

    /// <summary><c>owner/repo</c>.</summary>
    public string Repository => $"{Owner}/{Name}";

    /// <summary>True when <paramref name="text"/> names a hub model (it starts with <c>hf://</c>), valid or not.</summary>
    public static bool IsHubSource(string? text) => text?.TrimStart().StartsWith(Scheme, StringComparison.OrdinalIgnoreCase) == true;

    /// <summary>Parses <paramref name="text"/>; on failure <paramref name="problem"/> says what is wrong with it.</summary>
    public static bool TryParse(string? text, [NotNullWhen(true)] out HubModelSource? source, [NotNullWhen(false)] out string? problem)
    {
        source = null;
        var trimmed = text?.Trim() ?? "";
        if (!IsHubSource(trimmed))
        {
            problem = $"'{text}' is not a hub source: use {Forms}.";
            return false;
        }
        var rest = trimmed[Scheme.Length..];
        var revision = DefaultRevision;
        var at = rest.LastIndexOf('@');
        if (at >= 0)
        {
            revision = rest[(at + 1)..];
            rest = rest[..at];
            if (!RevisionPattern().IsMatch(revision) || revision.Contains("..", StringComparison.Ordinal))
            {
                problem = $"'{text}' has an invalid revision '{revision}': use a branch, tag or commit (letters, digits, '.', '_', '-', '/').";
                return false;
            }
        }

        string? quantization = null;
        var colon = rest.IndexOf(':');
        if (colon >= 0)
        {
            quantization = rest[(colon + 1)..];
            rest = rest[..colon];
            if (!QuantizationPattern().IsMatch(quantization))
            {
                problem = $"'{text}' has an invalid quantization '{quantization}': use a name such as Q4_K_M, Q8_0 or F16.";
                return false;
            }
        }

        var parts = rest.Split('/');
        if (parts.Length < 2 || !IsName(parts[0]) || !IsName(parts[1]))
        {
            problem = $"'{text}' does not name a repository as <owner>/<repo>: use {Forms}.";
            return false;
        }
        string? file = null;
        if (parts.Length > 2)
        {
            if (quantization is not null)
            {
                problem = $"'{text}' names both a file and a quantization: use hf://<owner>/<repo>/<file.gguf> or hf://<owner>/<repo>:<quant>.";
                return false;
            }
            var folders = parts[2..];
            if (folders.Any(p => !IsName(p)) || !folders[^1].EndsWith(".gguf", StringComparison.OrdinalIgnoreCase))
            {
                problem = $"'{text}' does not name a .gguf file of the repository (path segments of letters, digits, '.', '_', '-', ending in .gguf).";
                return false;
            }
            file = string.Join('/', folders);
        }
        source = new HubModelSource(parts[0], parts[1], file, quantization, revision);
        problem = null;
        return true;
    }

    public override string ToString() =>
        Scheme + Repository + (File is not null ? "/" + File : "") + (Quantization is not null ? ":" + Quantization : "") +
        (Revision == DefaultRevision ? "" : "@" + Revision);

    // The hub's own rule for owner and repository names (and what a path segment may be here): no "..", no
    // leading or trailing separator - so nothing built from them can climb out of the cache folder.
    private static bool IsName(string part) =>
        part.Length is > 0 and <= 96 && NamePattern().IsMatch(part) && !part.Contains("..", StringComparison.Ordinal)
        && part[0] is not ('.' or '-') && part[^1] is not ('.' or '-');

    [GeneratedRegex(@"^[A-Za-z0-9._-]+$")]
    private static partial Regex NamePattern();

    [GeneratedRegex(@"^[A-Za-z0-9_]{1,32}$")]
    private static partial Regex QuantizationPattern();

    [GeneratedRegex(@"^[A-Za-z0-9._][A-Za-z0-9._/-]{0,127}$")]
    private static partial Regex RevisionPattern();
}
