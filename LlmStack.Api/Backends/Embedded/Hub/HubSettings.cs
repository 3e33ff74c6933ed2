namespace LlmStack.Api.Backends.Embedded.Hub;

/// <summary>
/// Where the hub is and who we are there, read as huggingface_hub and llama.cpp read them: <c>HF_ENDPOINT</c>
/// (a mirror; default https://huggingface.co) and <c>HF_TOKEN</c> (for private and gated repositories), from the
/// environment or any other configuration source.
/// </summary>
internal sealed record HubSettings(Uri Endpoint, string? Token)
{
    public const string EndpointKey = "HF_ENDPOINT";
    public const string TokenKey = "HF_TOKEN";

    public static readonly Uri DefaultEndpoint = new("https://huggingface.co/");

    /// <summary>The settings in <paramref name="configuration"/>; a malformed endpoint is reported by <see cref="Validate"/>.</summary>
    public static HubSettings From(IConfiguration configuration)
    {
        var endpoint = configuration[EndpointKey] is { Length: > 0 } text && TryParseEndpoint(text, out var parsed) ? parsed : DefaultEndpoint;
        var token = configuration[TokenKey] is { Length: > 0 } t ? t.Trim() : null;
        return new HubSettings(endpoint, token);
    }

    /// <summary>The problem with <c>HF_ENDPOINT</c>, naming it; null when it is unset or usable.</summary>
    public static string? Validate(IConfiguration configuration) =>
        configuration[EndpointKey] is { Length: > 0 } text && !TryParseEndpoint(text, out _)
            ? $"{EndpointKey} '{text}' is not an absolute http(s) URL (e.g. https://huggingface.co or a mirror's address)."
            : null;

    private static bool TryParseEndpoint(string text, out Uri endpoint)
    {
        var trimmed = text.Trim().TrimEnd('/') + "/";
        if (Uri.TryCreate(trimmed, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" && uri.Host.Length > 0)
        {
            endpoint = uri;
            return true;
        }
        endpoint = DefaultEndpoint;
        return false;
    }
}
