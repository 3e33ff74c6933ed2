using LlmStack.Web.Security;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace LlmStack.Web.Accounts;

public static class AccountsExtensions
{
    public const string SignInPath = "/account/sign-in";
    public const string SignOutPath = "/account/sign-out";
    public const string AccessDeniedPath = "/account/access-denied";
    public const string ExternalSignInPath = "/account/external";
    public const string ExternalCallbackPath = "/account/external-callback";
    public const string OidcScheme = "oidc";

    /// <summary>
    /// Sign-in for every page and the interactive circuit: ASP.NET Core Identity's local accounts in SQLite (hashed
    /// passwords, lockout, the first administrator from <c>LlmStack:Accounts:AdminPassword</c>), OpenID Connect when
    /// <c>LlmStack:Accounts:Oidc:Authority</c> is set, a cookie session, and Data Protection keys kept in the data
    /// directory so that sessions and stored conversations survive a restart.
    /// </summary>
    public static WebApplicationBuilder AddAccounts(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptionsWithValidateOnStart<AccountOptions>().BindConfiguration(AccountOptions.SectionName);
        builder.Services.AddSingleton<IValidateOptions<AccountOptions>, AccountOptionsValidator>();
        // Read once more here: whether OpenID Connect exists decides which handlers are registered.
        var oidc = builder.Configuration.GetSection(AccountOptions.SectionName).Get<AccountOptions>()?.Oidc ?? new OidcOptions();

        var data = WebDataDirectory.Create(builder.Configuration, builder.Environment);
        builder.Services.AddSingleton(data);
        builder.Services.AddDataProtection()
            .PersistKeysToFileSystem(new DirectoryInfo(data.Keys))
            .SetApplicationName("LlmStack.Web");
        builder.Services.AddDbContext<UsersDbContext>(database => database.UseSqlite($"Data Source={data.UsersDatabase}"));

        builder.Services.AddIdentityCore<IdentityUser>()
            .AddRoles<IdentityRole>()
            .AddEntityFrameworkStores<UsersDbContext>()
            .AddSignInManager();
        builder.Services.AddOptions<IdentityOptions>().Configure<IOptions<AccountOptions>>((identity, signIn) =>
        {
            // Length, not character classes (NIST SP 800-63B); the generated administrator password is longer still.
            identity.Password.RequiredLength = AccountOptions.MinimumPasswordLength;
            identity.Password.RequireDigit = false;
            identity.Password.RequireLowercase = false;
            identity.Password.RequireUppercase = false;
            identity.Password.RequireNonAlphanumeric = false;
            identity.Lockout.AllowedForNewUsers = true;
            identity.Lockout.MaxFailedAccessAttempts = signIn.Value.MaxFailedAttempts;
            identity.Lockout.DefaultLockoutTimeSpan = signIn.Value.LockoutDuration;
        });
        // A removed account, a new password or a lockout ends that user's sessions within this time.
        builder.Services.Configure<SecurityStampValidatorOptions>(stamp => stamp.ValidationInterval = RevalidatingUserStateProvider.Interval);

        var authentication = builder.Services.AddAuthentication(options =>
        {
            options.DefaultScheme = IdentityConstants.ApplicationScheme;
            options.DefaultSignInScheme = IdentityConstants.ExternalScheme;
        });
        authentication.AddIdentityCookies();
        builder.Services.AddOptions<CookieAuthenticationOptions>(IdentityConstants.ApplicationScheme).Configure<IOptions<AccountOptions>>((cookie, signIn) =>
        {
            cookie.Cookie.Name = "llmstack.session";
            cookie.Cookie.HttpOnly = true;
            cookie.Cookie.SameSite = SameSiteMode.Lax;
            cookie.LoginPath = SignInPath;
            cookie.LogoutPath = SignOutPath;
            cookie.AccessDeniedPath = AccessDeniedPath;
            cookie.ReturnUrlParameter = "returnUrl";
            cookie.SlidingExpiration = true;
            cookie.ExpireTimeSpan = signIn.Value.SessionLifetime;
        });
        if (oidc.Enabled)
        {
            authentication.AddOpenIdConnect(OidcScheme, oidc.DisplayName, options => ConfigureOpenIdConnect(options, oidc));
        }
        builder.AddStackKeyAuthentication(authentication);

        // Every endpoint needs a signed-in user unless it says otherwise (the sign-in page, static files, health).
        builder.Services.AddAuthorizationBuilder()
            .SetFallbackPolicy(new AuthorizationPolicyBuilder().RequireAuthenticatedUser().Build());
        builder.Services.AddCascadingAuthenticationState();
        builder.Services.AddScoped<AuthenticationStateProvider, RevalidatingUserStateProvider>();

        builder.Services.AddSingleton<SignInThrottle>();
        // Registered first, so it starts first: nothing touches the accounts store before this Web holds the directory.
        builder.Services.AddHostedService<DataDirectoryLock>();
        builder.Services.AddHostedService<AdministratorBootstrap>();
        return builder;
    }

    /// <summary>Sign-out, and with OpenID Connect its start and its return.</summary>
    public static IEndpointRouteBuilder MapAccountEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapPost(SignOutPath, SignOutAsync)
            .WithMetadata(new RequireAntiforgeryTokenAttribute())
            .AllowAnonymous();
        if (app.ServiceProvider.GetRequiredService<IOptions<AccountOptions>>().Value.Oidc.Enabled)
        {
            app.MapGet(ExternalSignInPath, ExternalSignIn.Start).AllowAnonymous();
            app.MapGet(ExternalCallbackPath, ExternalSignIn.CompleteAsync).AllowAnonymous();
        }
        return app;
    }

    /// <summary>Where to go after signing in: a path of this site only, never another site (an open redirect).</summary>
    public static string LocalOrHome(string? returnUrl) =>
        returnUrl is { Length: > 0 } url && url[0] == '/' && !url.StartsWith("//", StringComparison.Ordinal)
        && !url.StartsWith("/\\", StringComparison.Ordinal) && Uri.TryCreate(url, UriKind.Relative, out _)
            ? url
            : "/";

    private static async Task<IResult> SignOutAsync(HttpContext context, SignInManager<IdentityUser> signIn)
    {
        // UseAntiforgery only checks the token; an endpoint that binds no form must refuse a missing one itself.
        if (context.Features.Get<IAntiforgeryValidationFeature>() is { IsValid: false })
        {
            return TypedResults.Text("This sign-out form did not come from this site (no valid antiforgery token).", statusCode: StatusCodes.Status400BadRequest);
        }
        await signIn.SignOutAsync();
        return TypedResults.LocalRedirect($"{SignInPath}?signedOut=true");
    }

    private static void ConfigureOpenIdConnect(OpenIdConnectOptions options, OidcOptions oidc)
    {
        options.SignInScheme = IdentityConstants.ExternalScheme;
        options.Authority = oidc.Authority!.AbsoluteUri;
        options.ClientId = oidc.ClientId;
        options.ClientSecret = oidc.ClientSecret;
        options.RequireHttpsMetadata = oidc.RequireHttpsMetadata;
        // Authorization code with PKCE: no token ever passes through the browser's address bar.
        options.ResponseType = "code";
        options.UsePkce = true;
        options.Scope.Clear();
        foreach (var scope in new[] { "openid", "profile", "email" })
        {
            options.Scope.Add(scope);
        }
        options.SaveTokens = false;
        options.Events.OnRemoteFailure = context =>
        {
            // Refused at the provider, or an answer that does not validate: back to sign-in, saying so.
            context.HttpContext.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(ExternalSignIn))
                .LogWarning(context.Failure, "OpenID Connect sign-in failed");
            context.Response.Redirect($"{SignInPath}?failure={ExternalSignIn.Failures.Provider}");
            context.HandleResponse();
            return Task.CompletedTask;
        };
    }
}
