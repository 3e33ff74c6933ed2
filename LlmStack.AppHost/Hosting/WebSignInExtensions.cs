using Aspire.Hosting.ApplicationModel;

namespace LlmStack.AppHost.Hosting;

/// <summary>
/// The chat page's first administrator: a generated secret parameter, kept in the AppHost's user secrets like the API
/// key, which the Web makes the password of its <c>admin</c> account at every start (<c>LlmStack:Accounts:AdminPassword</c>).
/// The compose publisher turns it into <c>LLMSTACK_WEB_ADMIN_PASSWORD</c> in <c>.env</c>.
/// </summary>
public static class WebSignInExtensions
{
    public const string ParameterName = "llmstack-web-admin-password";

    /// <summary>The account the Web creates for it (the Web's default <c>LlmStack:Accounts:AdminUser</c>).</summary>
    public const string AdminUser = "admin";

    public static IResourceBuilder<ParameterResource> AddWebAdminPassword(this IDistributedApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        // Letters and digits only, like the API key: it goes through environment variables and .env unquoted.
        return builder.AddParameter(ParameterName, new GenerateParameterDefault { MinLength = 24, Special = false }, secret: true, persist: true)
            .WithDescription($"The password of the chat page's administrator '{AdminUser}', who adds and removes the other users. " +
                             "At least 12 characters; e.g. openssl rand -hex 16.");
    }

    /// <summary>The Web's administrator signs in with <paramref name="password"/>.</summary>
    public static IResourceBuilder<ProjectResource> WithAdminPassword(this IResourceBuilder<ProjectResource> web, IResourceBuilder<ParameterResource> password)
    {
        ArgumentNullException.ThrowIfNull(web);
        ArgumentNullException.ThrowIfNull(password);
        return web.WithEnvironment("LlmStack__Accounts__AdminPassword", password);
    }
}
