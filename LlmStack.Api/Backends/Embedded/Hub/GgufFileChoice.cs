using System.Text.RegularExpressions;

namespace LlmStack.Api.Backends.Embedded.Hub;

/// <summary>
/// Which GGUF file of a repository a quantization name means, the way llama-server's <c>-hf owner/repo:quant</c>
/// chooses (llama.cpp common/download.cpp, find_best_model): the first model file (not a multimodal projector,
/// importance matrix or draft model) whose path holds the name followed by '.' or '-', case-insensitively; without
/// a name, Q4_K_M, else Q8_0, else the first model file. Of a model split in parts, only its first part counts.
/// </summary>
internal static partial class GgufFileChoice
{
    /// <summary>llama-server's preference when no quantization is named.</summary>
    public static readonly string[] DefaultQuantizations = ["Q4_K_M", "Q8_0"];

    private static readonly string[] NotModels = ["mmproj", "imatrix", "mtp-", "eagle3-", "dflash-", "dspark-"];

    /// <summary>The chosen file's path among <paramref name="paths"/>, or null when none fits.</summary>
    public static string? Choose(IEnumerable<string> paths, string? quantization)
    {
        var models = paths.Where(IsModel).Where(p => SplitPart(p) is null or (1, _)).ToList();
        var tags = quantization is null ? DefaultQuantizations : [quantization];
        foreach (var tag in tags)
        {
            var pattern = new Regex(Regex.Escape(tag) + "[.-]", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);
            if (models.FirstOrDefault(p => pattern.IsMatch(p)) is { } match)
            {
                return match;
            }
        }
        return quantization is null ? models.FirstOrDefault() : null;
    }

    /// <summary>The GGUF files of <paramref name="paths"/> that are models, for a message listing what there is.</summary>
    public static IEnumerable<string> Models(IEnumerable<string> paths) => paths.Where(IsModel);

    /// <summary>(part, count) of a file named <c>...-00001-of-00003.gguf</c>; null for a file in one piece.</summary>
    public static (int Part, int Count)? SplitPart(string path)
    {
        var match = SplitName().Match(path);
        return match.Success ? (int.Parse(match.Groups[1].ValueSpan), int.Parse(match.Groups[2].ValueSpan)) : null;
    }

    private static bool IsModel(string path)
    {
        if (!path.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }
        var name = path[(path.LastIndexOf('/') + 1)..];
        return !NotModels.Any(n => name.Contains(n, StringComparison.Ordinal));
    }

    [GeneratedRegex(@"-(\d{5})-of-(\d{5})\.gguf$", RegexOptions.IgnoreCase)]
    private static partial Regex SplitName();
}
