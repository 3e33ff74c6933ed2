using Aspire.Hosting.ApplicationModel;

namespace LlmStack.AppHost.Hosting;

/// <summary>
/// The API key of the stack: one secret parameter that the API accepts (<c>LlmStack:Auth:Keys:0</c>) and the Web
/// sends (<c>LlmStack:ApiKey</c>), so the API is never open even when its port is reachable. Generated at the first
/// run and kept in the AppHost's user secrets; set <c>Parameters:llmstack-api-key</c> to choose it. The compose
/// publisher turns it into <c>LLMSTACK_API_KEY</c> in <c>.env</c>.
/// </summary>
public static class ApiKeyExtensions
{
    public const string ParameterName = "llmstack-api-key";

    /// <summary>The name the API shows in logs and metrics for requests made with this key.</summary>
    public const string KeyName = "stack";

    public static IResourceBuilder<ParameterResource> AddLlmStackApiKey(this IDistributedApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        // Letters and digits only: it travels in headers, environment variables and .env files unquoted.
        return builder.AddParameter(ParameterName, new GenerateParameterDefault { MinLength = 40, Special = false }, secret: true, persist: true)
            .WithDescription("The API key: the Web sends it to the API, and any OpenAI client of the API needs it " +
                             "(Authorization: Bearer). At least 16 characters; e.g. openssl rand -hex 24.");
    }

    /// <summary>The API accepts <paramref name="key"/>.</summary>
    public static IResourceBuilder<ProjectResource> WithAcceptedApiKey(this IResourceBuilder<ProjectResource> api, IResourceBuilder<ParameterResource> key)
    {
        ArgumentNullException.ThrowIfNull(api);
        ArgumentNullException.ThrowIfNull(key);
        return api.WithEnvironment("LlmStack__Auth__Keys__0__Key", key)
            .WithEnvironment("LlmStack__Auth__Keys__0__Name", KeyName);
    }

    /// <summary>The Web sends <paramref name="key"/> to the API, from the server only.</summary>
    public static IResourceBuilder<ProjectResource> WithApiKey(this IResourceBuilder<ProjectResource> web, IResourceBuilder<ParameterResource> key)
    {
        ArgumentNullException.ThrowIfNull(web);
        ArgumentNullException.ThrowIfNull(key);
        return web.WithEnvironment("LlmStack__ApiKey", key);
    }
}
