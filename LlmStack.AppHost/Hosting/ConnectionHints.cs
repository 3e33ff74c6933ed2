using Aspire.Hosting.ApplicationModel;

namespace LlmStack.AppHost.Hosting;

/// <summary>
/// What a developer needs once the stack is up, on the console where they ran it: the API's base URL and where its key
/// is, and the chat page with the administrator's password - each the dashboard's parameter, or one command that
/// prints the generated values from the AppHost's user secrets. The secrets themselves never go to the console.
/// </summary>
public static class ConnectionHints
{
    /// <summary>Prints one line per service when it turns healthy (once per run).</summary>
    public static IDistributedApplicationBuilder PrintConnectionHints(this IDistributedApplicationBuilder builder,
        IResourceBuilder<ProjectResource> api, IResourceBuilder<ParameterResource> apiKey,
        IResourceBuilder<ProjectResource> web, IResourceBuilder<ParameterResource> adminPassword) =>
        builder.PrintConnectionHints(api, apiKey, web, adminPassword, Console.Out);

    internal static IDistributedApplicationBuilder PrintConnectionHints(this IDistributedApplicationBuilder builder,
        IResourceBuilder<ProjectResource> api, IResourceBuilder<ParameterResource> apiKey,
        IResourceBuilder<ProjectResource> web, IResourceBuilder<ParameterResource> adminPassword, TextWriter console)
    {
        ArgumentNullException.ThrowIfNull(builder);
        if (builder.ExecutionContext.IsPublishMode)
        {
            return builder;
        }
        var secrets = SecretsCommand(builder);
        builder.Eventing.Subscribe<ResourceReadyEvent>(api.Resource, (_, _) =>
        {
            var root = api.Resource.GetEndpoint("http").Url;
            console.WriteLine(
                $"API: {root}/v1 (OpenAI-compatible) needs its key as 'Authorization: Bearer <key>': the parameter {apiKey.Resource.Name} " +
                $"in the dashboard, or `{secrets}` (Parameters:{apiKey.Resource.Name}). Try: curl {root}/v1/models -H \"Authorization: Bearer <key>\"");
            return Task.CompletedTask;
        });
        builder.Eventing.Subscribe<ResourceReadyEvent>(web.Resource, (_, _) =>
        {
            console.WriteLine(
                $"Chat: {web.Resource.GetEndpoint("http").Url} - sign in as '{WebSignInExtensions.AdminUser}' with the parameter {adminPassword.Resource.Name} " +
                $"in the dashboard, or `{secrets}` (Parameters:{adminPassword.Resource.Name}); add other users on its Users page.");
            return Task.CompletedTask;
        });
        return builder;
    }

    /// <summary>The one command that prints the generated parameters, from any folder: the AppHost's user secrets by id.</summary>
    private static string SecretsCommand(IDistributedApplicationBuilder builder)
    {
        var id = builder.AppHostAssembly?.GetCustomAttributes(typeof(Microsoft.Extensions.Configuration.UserSecrets.UserSecretsIdAttribute), inherit: false)
            .OfType<Microsoft.Extensions.Configuration.UserSecrets.UserSecretsIdAttribute>().FirstOrDefault()?.UserSecretsId;
        return id is null ? "dotnet user-secrets list --project LlmStack.AppHost" : $"dotnet user-secrets list --id {id}";
    }
}
