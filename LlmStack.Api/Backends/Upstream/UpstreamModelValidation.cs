using LlmStack.Api.Configuration;
using LlmStack.Api.Pipeline;

namespace LlmStack.Api.Backends.Upstream;

/// <summary>The settings every backend reached over HTTP needs, checked the same way for each.</summary>
internal static class UpstreamModelValidation
{
    public static IEnumerable<string> Validate(ModelOptions options, string keyPrefix, string example)
    {
        if (string.IsNullOrWhiteSpace(options.Endpoint))
        {
            yield return $"{keyPrefix}:Endpoint is required for the {options.Backend} backend: the server's base URL (e.g. {example}).";
        }
        else if (!Uri.TryCreate(options.Endpoint, UriKind.Absolute, out var endpoint) ||
                 endpoint.Scheme is not ("http" or "https") || string.IsNullOrEmpty(endpoint.Host))
        {
            yield return $"{keyPrefix}:Endpoint '{options.Endpoint}' is not an absolute http(s) URL (e.g. {example}).";
        }

        if (options.ConnectTimeout <= TimeSpan.Zero)
        {
            yield return $"{keyPrefix}:ConnectTimeout must be positive (e.g. 00:00:10), not '{options.ConnectTimeout}'.";
        }
    }

    /// <summary>The endpoint as a base address: relative paths resolve below it only with a trailing slash.</summary>
    public static Uri BaseAddress(ModelOptions options)
    {
        var endpoint = options.Endpoint!.Trim();
        return new Uri(endpoint.EndsWith('/') ? endpoint : endpoint + "/");
    }
}
