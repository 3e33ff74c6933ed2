using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;

namespace LlmStack.Web.Accounts;

/// <summary>
/// Sign-in at the OpenID Connect provider: the start (a challenge that sends the browser there) and the return.
/// A provider identity signs in to the account it is linked to; the first time, to the account an administrator made
/// under its email address (then linked), or - with <c>LlmStack:Accounts:Oidc:AllowNewUsers</c> - to a new account.
/// Anyone else the provider knows is turned away: a public provider must not open the GPU to all of its users.
/// </summary>
internal static partial class ExternalSignIn
{
    /// <summary>Why a sign-in at the provider did not end signed in here; the sign-in page words each.</summary>
    public static class Failures
    {
        public const string Provider = "provider";
        public const string NoAccount = "no-account";
        public const string NoEmail = "no-email";
        public const string Locked = "locked";
    }

    public static IResult Start(string? returnUrl, SignInManager<IdentityUser> signIn)
    {
        var back = $"{AccountsExtensions.ExternalCallbackPath}?returnUrl={Uri.EscapeDataString(AccountsExtensions.LocalOrHome(returnUrl))}";
        return TypedResults.Challenge(signIn.ConfigureExternalAuthenticationProperties(AccountsExtensions.OidcScheme, back), [AccountsExtensions.OidcScheme]);
    }

    public static async Task<IResult> CompleteAsync(string? returnUrl, HttpContext context, SignInManager<IdentityUser> signIn,
        UserManager<IdentityUser> users, IOptions<AccountOptions> options, ILoggerFactory loggers)
    {
        var logger = loggers.CreateLogger(typeof(ExternalSignIn));
        var info = await signIn.GetExternalLoginInfoAsync();
        if (info is null)
        {
            return Failed(Failures.Provider);
        }
        var result = await signIn.ExternalLoginSignInAsync(info.LoginProvider, info.ProviderKey, isPersistent: true, bypassTwoFactor: true);
        if (result.Succeeded)
        {
            return TypedResults.LocalRedirect(AccountsExtensions.LocalOrHome(returnUrl));
        }
        if (result.IsLockedOut)
        {
            return Failed(Failures.Locked);
        }

        // The first sign-in of this provider identity. An email the provider says it has not verified names no one.
        var email = info.Principal.FindFirstValue(ClaimTypes.Email);
        if (string.IsNullOrWhiteSpace(email) || string.Equals(info.Principal.FindFirstValue("email_verified"), "false", StringComparison.OrdinalIgnoreCase))
        {
            LogNoEmail(logger, info.LoginProvider, info.ProviderKey);
            return Failed(Failures.NoEmail);
        }
        var user = await users.FindByNameAsync(email) ?? await users.FindByEmailAsync(email);
        if (user is null)
        {
            if (!options.Value.Oidc.AllowNewUsers)
            {
                LogNoAccount(logger, email);
                return Failed(Failures.NoAccount);
            }
            user = new IdentityUser(email) { Email = email, EmailConfirmed = true };
            if (!(await users.CreateAsync(user)).Succeeded)
            {
                return Failed(Failures.NoAccount);
            }
            LogCreated(logger, email);
        }
        if (await users.IsLockedOutAsync(user))
        {
            return Failed(Failures.Locked);
        }
        var linked = await users.AddLoginAsync(user, info);
        if (!linked.Succeeded)
        {
            LogLinkFailed(logger, email, string.Join(" ", linked.Errors.Select(e => e.Description)));
            return Failed(Failures.Provider);
        }
        await context.SignOutAsync(IdentityConstants.ExternalScheme);
        await signIn.SignInAsync(user, isPersistent: true, info.LoginProvider);
        return TypedResults.LocalRedirect(AccountsExtensions.LocalOrHome(returnUrl));
    }

    private static IResult Failed(string failure) =>
        TypedResults.Redirect($"{AccountsExtensions.SignInPath}?failure={failure}");

    [LoggerMessage(Level = LogLevel.Warning, Message = "OpenID Connect sign-in of {Email} refused: no account has that name or email (an administrator adds it, or set LlmStack:Accounts:Oidc:AllowNewUsers)")]
    private static partial void LogNoAccount(ILogger logger, string email);

    [LoggerMessage(Level = LogLevel.Warning, Message = "OpenID Connect sign-in refused: {Provider} identity {Subject} has no verified email")]
    private static partial void LogNoEmail(ILogger logger, string provider, string subject);

    [LoggerMessage(Level = LogLevel.Information, Message = "Created the account {Email} at its first OpenID Connect sign-in")]
    private static partial void LogCreated(ILogger logger, string email);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not link the OpenID Connect identity to {Email}: {Errors}")]
    private static partial void LogLinkFailed(ILogger logger, string email, string errors);
}
