using Microsoft.Extensions.Options;

namespace LlmStack.Web.Api;

/// <summary>
/// Where the LlmStack API is: <c>services:api:http:0</c> (or <c>services__api__http__0</c>), which the AppHost
/// sets and a person can set by hand to point the UI at any LlmStack API. Requests go to <c>http://api</c> and
/// service discovery resolves it from that key; this option only checks the key at start and names it in
/// messages.
/// </summary>
public sealed class LlmStackApiEndpoint
{
    public const string ServiceName = "api";
    public const string ConfigurationKey = $"services:{ServiceName}:http:0";

    /// <summary>
    /// <c>LlmStack:ApiKey</c>: the key the Web sends to the API as <c>Authorization: Bearer</c>, from the server
    /// (never to the browser). The AppHost sets it to the key it gives the API; unset for an open API.
    /// </summary>
    public const string ApiKeyConfigurationKey = "LlmStack:ApiKey";

    /// <summary>The address service discovery will resolve <c>http://api</c> to.</summary>
    public Uri? Address { get; set; }

    /// <summary>See <see cref="ApiKeyConfigurationKey"/>.</summary>
    public string? ApiKey { get; set; }

    /// <summary>What the HTTP clients use as their base address.</summary>
    public static Uri ServiceAddress { get; } = new($"http://{ServiceName}");
}

/// <summary>Stops the Web at start, naming the key, when it does not know where the API is.</summary>
internal sealed class LlmStackApiEndpointValidator(IConfiguration configuration) : IValidateOptions<LlmStackApiEndpoint>
{
    public ValidateOptionsResult Validate(string? name, LlmStackApiEndpoint options) => options.Address switch
    {
        null => ValidateOptionsResult.Fail(
            $"{LlmStackApiEndpoint.ConfigurationKey} must be the LlmStack API's absolute URL (e.g. http://localhost:5080); " +
            $"it is '{configuration[LlmStackApiEndpoint.ConfigurationKey]}'. The AppHost sets it; to run the Web UI alone set " +
            $"services__{LlmStackApiEndpoint.ServiceName}__http__0."),
        { Scheme: not ("http" or "https") } => ValidateOptionsResult.Fail(
            $"{LlmStackApiEndpoint.ConfigurationKey} must be an http or https URL; it is '{options.Address}'."),
        _ => ValidateOptionsResult.Success,
    };
}

/// <summary>
/// <c>ModelDownload:DashboardUrl</c>: where a person can follow a model's download (the AppHost sets it to the
/// model's log in the Aspire dashboard). The chat page links to it while a model is not ready; unset, no link.
/// </summary>
public sealed class ModelDownloadOptions
{
    public const string SectionName = "ModelDownload";

    public Uri? DashboardUrl { get; set; }

    /// <summary>The link to show, when it is one a browser may follow (an absolute http or https URL).</summary>
    public Uri? Link => DashboardUrl is { IsAbsoluteUri: true, Scheme: "http" or "https" } url ? url : null;
}
