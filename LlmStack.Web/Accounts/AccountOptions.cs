using Microsoft.Extensions.Options;

namespace LlmStack.Web.Accounts;

/// <summary>
/// <c>LlmStack:Accounts</c>: who may use the chat page. Local accounts (ASP.NET Core Identity: hashed passwords,
/// lockout) live in <c>users.db</c> in the data directory; the first administrator's password comes from here
/// (the AppHost's generated <c>llmstack-web-admin-password</c> parameter, <c>.env</c> in compose); OpenID Connect
/// sign-in is offered when <see cref="OidcOptions.Authority"/> is set.
/// </summary>
public sealed class AccountOptions
{
    public const string SectionName = "LlmStack:Accounts";

    /// <summary>Shortest password the Web accepts for an account: long beats complicated (NIST SP 800-63B).</summary>
    public const int MinimumPasswordLength = 12;

    /// <summary>The administrator the Web creates when it starts with no such user.</summary>
    public string AdminUser { get; set; } = "admin";

    /// <summary>
    /// The administrator's password. It is the administrator's password at every start: set a new one here and restart
    /// to change it (or to recover a forgotten one). Required while the administrator does not exist yet.
    /// </summary>
    public string? AdminPassword { get; set; }

    /// <summary>Wrong passwords in a row that lock an account for <see cref="LockoutDuration"/>.</summary>
    public int MaxFailedAttempts { get; set; } = 5;

    public TimeSpan LockoutDuration { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Sign-in attempts a minute from one client address, whatever the account: each costs a password hash, and a
    /// spray across many accounts never trips one account's lockout.
    /// </summary>
    public int AttemptsPerMinutePerAddress { get; set; } = 20;

    /// <summary>How long a sign-in lasts without use (sliding); the session cookie is renewed while the page is used.</summary>
    public TimeSpan SessionLifetime { get; set; } = TimeSpan.FromDays(7);

    public OidcOptions Oidc { get; set; } = new();
}

/// <summary><c>LlmStack:Accounts:Oidc</c>: sign-in at an OpenID Connect provider (Entra ID, Keycloak, Google, Auth0...).</summary>
public sealed class OidcOptions
{
    /// <summary>The issuer, e.g. <c>https://login.microsoftonline.com/&lt;tenant&gt;/v2.0</c>; unset, no OpenID Connect.</summary>
    public Uri? Authority { get; set; }

    public string? ClientId { get; set; }

    public string? ClientSecret { get; set; }

    /// <summary>The button's words: "Sign in with &lt;DisplayName&gt;".</summary>
    public string DisplayName { get; set; } = "single sign-on";

    /// <summary>
    /// False (the default): someone who signs in at the provider gets in only when an administrator has added an
    /// account named by their email address. True: anyone the provider signs in gets an account - right for a
    /// provider that only your organisation's people can sign in to, never for a public one such as Google.
    /// </summary>
    public bool AllowNewUsers { get; set; }

    /// <summary>The provider's metadata must come over HTTPS; only a local test provider turns this off.</summary>
    public bool RequireHttpsMetadata { get; set; } = true;

    public bool Enabled => Authority is not null;
}

internal sealed class AccountOptionsValidator : IValidateOptions<AccountOptions>
{
    private const string Oidc = $"{AccountOptions.SectionName}:Oidc";

    public ValidateOptionsResult Validate(string? name, AccountOptions options)
    {
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.AdminUser))
        {
            failures.Add($"{AccountOptions.SectionName}:AdminUser must name the administrator (default 'admin').");
        }
        if (options.AdminPassword is { } password && password.Length < AccountOptions.MinimumPasswordLength)
        {
            failures.Add($"{AccountOptions.SectionName}:AdminPassword must have at least {AccountOptions.MinimumPasswordLength} characters " +
                         "(e.g. openssl rand -hex 16); it has fewer.");
        }
        if (options.MaxFailedAttempts is < 1 or > 100)
        {
            failures.Add($"{AccountOptions.SectionName}:MaxFailedAttempts must be between 1 and 100; it is {options.MaxFailedAttempts}.");
        }
        if (options.LockoutDuration <= TimeSpan.Zero)
        {
            failures.Add($"{AccountOptions.SectionName}:LockoutDuration must be positive (e.g. 00:05:00); it is {options.LockoutDuration}.");
        }
        if (options.AttemptsPerMinutePerAddress < 1)
        {
            failures.Add($"{AccountOptions.SectionName}:AttemptsPerMinutePerAddress must be at least 1; it is {options.AttemptsPerMinutePerAddress}.");
        }
        if (options.SessionLifetime <= TimeSpan.Zero)
        {
            failures.Add($"{AccountOptions.SectionName}:SessionLifetime must be positive (e.g. 7.00:00:00); it is {options.SessionLifetime}.");
        }
        var oidc = options.Oidc;
        if (oidc.Authority is { } authority)
        {
            if (!authority.IsAbsoluteUri || authority.Scheme is not ("https" or "http"))
            {
                failures.Add($"{Oidc}:Authority must be the provider's absolute https URL; it is '{authority}'.");
            }
            else if (authority.Scheme == "http" && oidc.RequireHttpsMetadata)
            {
                failures.Add($"{Oidc}:Authority '{authority}' is not https; set {Oidc}:RequireHttpsMetadata=false only for a local test provider.");
            }
            if (string.IsNullOrWhiteSpace(oidc.ClientId))
            {
                failures.Add($"{Oidc}:ClientId must be set with {Oidc}:Authority (the client id the provider gave this app).");
            }
        }
        else if (!string.IsNullOrWhiteSpace(oidc.ClientId))
        {
            failures.Add($"{Oidc}:ClientId is set but {Oidc}:Authority is not; set both, or neither.");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
