using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;

namespace LlmStack.AppHost.Hosting;

/// <summary>
/// The AppHost's <c>Ollama</c> configuration section: where Ollama runs and what it serves. Set it in
/// appsettings.json, as arguments (<c>--Ollama:Mode=local</c>) or environment variables (<c>Ollama__Mode=local</c>).
/// </summary>
internal sealed partial record OllamaHostingSettings(OllamaHostingMode Mode, Uri? Url, string Model, bool Gpu, OllamaImage Image)
{
    public const string ModeKey = "Ollama:Mode";
    public const string UrlKey = "Ollama:Url";
    public const string ModelKey = "Ollama:Model";
    public const string GpuKey = "Ollama:Gpu";
    public const string ImageKey = "Ollama:Image";
    public const string ImageTagKey = "Ollama:ImageTag";

    public const string DefaultModel = "qwen2.5:7b";

    public static string ModeChoices { get; } =
        string.Join('|', Enum.GetNames<OllamaHostingMode>().Select(n => n.ToLowerInvariant()));

    /// <summary>Reads and checks the section; every problem is reported at once, each naming its key.</summary>
    public static OllamaHostingSettings Read(IConfiguration configuration)
    {
        var problems = new List<string>();

        var modeText = configuration[ModeKey];
        var mode = OllamaHostingMode.Auto;
        if (!string.IsNullOrWhiteSpace(modeText) && !TryParseMode(modeText.Trim(), out mode))
        {
            problems.Add($"{ModeKey} '{modeText}' is not a mode; use one of {ModeChoices}.");
        }

        var urlText = configuration[UrlKey];
        Uri? url = null;
        if (!string.IsNullOrWhiteSpace(urlText))
        {
            if (!Uri.TryCreate(urlText.Trim(), UriKind.Absolute, out url) || url.Scheme is not ("http" or "https") || url.Host.Length == 0)
            {
                problems.Add($"{UrlKey} '{urlText}' is not an absolute http(s) URL such as http://gpu-box:11434.");
                url = null;
            }
            else if (mode is not (OllamaHostingMode.Auto or OllamaHostingMode.External))
            {
                problems.Add($"{UrlKey} is set but {ModeKey} is '{modeText}'; the URL is used only with {ModeKey}=external (or auto).");
            }
        }
        else if (mode == OllamaHostingMode.External)
        {
            problems.Add($"{ModeKey}=external needs {UrlKey}, the Ollama server's URL (e.g. http://gpu-box:11434).");
        }

        var model = configuration[ModelKey] is { } modelText && !string.IsNullOrWhiteSpace(modelText) ? modelText.Trim() : DefaultModel;
        if (!ModelName().IsMatch(model))
        {
            problems.Add($"{ModelKey} '{model}' is not an Ollama model name such as {DefaultModel} or hf.co/owner/repo:Q4_K_M.");
        }

        var gpuText = configuration[GpuKey];
        var gpu = false;
        if (!string.IsNullOrWhiteSpace(gpuText) && !bool.TryParse(gpuText.Trim(), out gpu))
        {
            problems.Add($"{GpuKey} '{gpuText}' is not true or false.");
        }

        var image = OllamaImage.Default;
        if (configuration[ImageKey] is { } imageText && !string.IsNullOrWhiteSpace(imageText))
        {
            if (OllamaImage.Parse(imageText.Trim(), image.Tag) is { } parsed)
            {
                image = parsed;
            }
            else
            {
                problems.Add($"{ImageKey} '{imageText}' is not an image name such as ollama/ollama or registry.example.com/team/ollama.");
            }
        }
        if (configuration[ImageTagKey] is { } tagText && !string.IsNullOrWhiteSpace(tagText))
        {
            if (ImageTag().IsMatch(tagText.Trim()))
            {
                image = image with { Tag = tagText.Trim() };
            }
            else
            {
                problems.Add($"{ImageTagKey} '{tagText}' is not an image tag such as {OllamaImage.Default.Tag}.");
            }
        }

        if (problems.Count > 0)
        {
            throw new DistributedApplicationException(
                $"LlmStack cannot start: {string.Join(" ", problems)}");
        }

        return new OllamaHostingSettings(mode, url, model, gpu, image);
    }

    // Enum.TryParse would also take "1" and "auto,none".
    private static bool TryParseMode(string text, out OllamaHostingMode mode)
    {
        var name = Enum.GetNames<OllamaHostingMode>().FirstOrDefault(n => string.Equals(n, text, StringComparison.OrdinalIgnoreCase));
        mode = name is null ? OllamaHostingMode.Auto : Enum.Parse<OllamaHostingMode>(name);
        return name is not null;
    }

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._\-/:]*$")]
    private static partial Regex ModelName();

    [GeneratedRegex(@"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")]
    private static partial Regex ImageTag();
}
