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

    /// <summary>
    /// AppHost configuration key: the Web's data directory (accounts, Data Protection keys) under <c>dotnet run</c>.
    /// Unset, the Web keeps its own default, <c>LlmStack.Web/data</c> in the checkout, which survives restarts. A second
    /// AppHost on the same checkout (the end-to-end tests start several) needs a directory of its own: the Web holds its
    /// directory alone and refuses to start on one in use.
    /// </summary>
    public const string DataDirectoryKey = "Web:DataDirectory";

    /// <summary>
    /// Gives the Web the directory of <see cref="DataDirectoryKey"/> (a relative path is taken from the AppHost's
    /// working directory) as <c>LlmStack__DataDirectory</c>. Not in publish mode: compose puts it on the web-data volume.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithConfiguredDataDirectory(this IResourceBuilder<ProjectResource> web)
    {
        ArgumentNullException.ThrowIfNull(web);
        var configured = web.ApplicationBuilder.Configuration[DataDirectoryKey];
        if (string.IsNullOrWhiteSpace(configured) || web.ApplicationBuilder.ExecutionContext.IsPublishMode)
        {
            return web;
        }
        return web.WithEnvironment(DataDirectoryVariable, Path.GetFullPath(configured));
    }

    /// <summary>The Web's <c>LlmStack:DataDirectory</c> as an environment variable.</summary>
    internal const string DataDirectoryVariable = "LlmStack__DataDirectory";
}
