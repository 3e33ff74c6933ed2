using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;

namespace LlmStack.Web.Accounts;

/// <summary>
/// Before the Web answers its first request: creates the accounts store when it is new, and makes sure the
/// administrator (<c>LlmStack:Accounts:AdminUser</c>) exists with the configured password - so the password the AppHost
/// prints (or <c>.env</c> holds) is always the one that works. With no password configured, an existing
/// administrator keeps theirs; a store without one stops the Web at start, naming the key.
/// </summary>
internal sealed partial class AdministratorBootstrap(IServiceProvider services, IOptions<AccountOptions> options, ILogger<AdministratorBootstrap> logger)
    : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await using var scope = services.CreateAsyncScope();
        var database = scope.ServiceProvider.GetRequiredService<UsersDbContext>();
        // The schema is Identity's and changes only with a new Identity version; migrations would add nothing yet.
        await database.Database.EnsureCreatedAsync(cancellationToken);

        var roles = scope.ServiceProvider.GetRequiredService<RoleManager<IdentityRole>>();
        if (!await roles.RoleExistsAsync(Roles.Administrator))
        {
            Check(await roles.CreateAsync(new IdentityRole(Roles.Administrator)), "create the administrator role");
        }

        var users = scope.ServiceProvider.GetRequiredService<UserManager<IdentityUser>>();
        var settings = options.Value;
        var admin = await users.FindByNameAsync(settings.AdminUser);
        if (admin is null)
        {
            if (settings.AdminPassword is null)
            {
                throw new InvalidOperationException(
                    $"{AccountOptions.SectionName}:AdminPassword must be set: there is no administrator '{settings.AdminUser}' yet to sign in with. " +
                    "The AppHost generates it (parameter llmstack-web-admin-password); in compose set LLMSTACK_WEB_ADMIN_PASSWORD in .env; " +
                    $"running the Web alone: dotnet user-secrets set \"{AccountOptions.SectionName}:AdminPassword\" <at least {AccountOptions.MinimumPasswordLength} characters>.");
            }
            admin = new IdentityUser(settings.AdminUser);
            Check(await users.CreateAsync(admin, settings.AdminPassword), $"create the administrator '{settings.AdminUser}'");
            LogCreated(logger, settings.AdminUser);
        }
        else if (settings.AdminPassword is { } password && !await users.CheckPasswordAsync(admin, password))
        {
            // The configured password is the administrator's: a new one set there (or a forgotten one replaced) takes effect here.
            Check(await users.RemovePasswordAsync(admin), $"reset the password of '{settings.AdminUser}'");
            Check(await users.AddPasswordAsync(admin, password), $"set the password of '{settings.AdminUser}'");
            LogPasswordSet(logger, settings.AdminUser);
        }
        if (!await users.IsInRoleAsync(admin, Roles.Administrator))
        {
            Check(await users.AddToRoleAsync(admin, Roles.Administrator), $"make '{settings.AdminUser}' an administrator");
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private static void Check(IdentityResult result, string what)
    {
        if (!result.Succeeded)
        {
            throw new InvalidOperationException($"The Web could not {what}: {string.Join(" ", result.Errors.Select(e => e.Description))}");
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Created the administrator '{User}' (password: LlmStack:Accounts:AdminPassword)")]
    private static partial void LogCreated(ILogger logger, string user);

    [LoggerMessage(Level = LogLevel.Information, Message = "Set the password of the administrator '{User}' from LlmStack:Accounts:AdminPassword")]
    private static partial void LogPasswordSet(ILogger logger, string user);
}
