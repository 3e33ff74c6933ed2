using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using LlmStack.Web.Api;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Options;

namespace LlmStack.Web.Security;

/// <summary>
/// The machine callers of the Web's infrastructure endpoints - Prometheus scraping <c>/metrics</c> - prove themselves
/// with the stack's API key (<c>LlmStack:ApiKey</c>, the one the Web sends to the API) as <c>Authorization: Bearer</c>,
/// as they do at the API. <c>/metrics</c> needs it when <c>LlmStack:Auth:ProtectMetrics</c> is on, the API's setting.
/// Only these endpoints use this scheme; people sign in with a cookie.
/// </summary>
public static class StackKeyAuthentication
{
    public const string Scheme = "StackKey";

    /// <summary>A caller that presented the stack's key (or anyone, when the stack has none: the API is open then too).</summary>
    public const string KeyedCallerPolicy = "StackKey";

    /// <summary><c>/metrics</c>: <see cref="KeyedCallerPolicy"/> when <c>LlmStack:Auth:ProtectMetrics</c> is on, else anyone.</summary>
    public const string MetricsPolicy = "Metrics";

    public const string ProtectMetricsKey = "LlmStack:Auth:ProtectMetrics";

    public static IHostApplicationBuilder AddStackKeyAuthentication(this IHostApplicationBuilder builder, AuthenticationBuilder authentication)
    {
        var protectMetrics = builder.Configuration.GetValue<bool>(ProtectMetricsKey);
        var hasKey = builder.Configuration[LlmStackApiEndpoint.ApiKeyConfigurationKey] is { Length: > 0 };
        if (protectMetrics && !hasKey)
        {
            throw new InvalidOperationException(
                $"{ProtectMetricsKey}=true needs {LlmStackApiEndpoint.ApiKeyConfigurationKey}: it is the key that /metrics then asks for.");
        }

        authentication.AddScheme<AuthenticationSchemeOptions, StackKeyHandler>(Scheme, configureOptions: null);
        builder.Services.AddAuthorizationBuilder()
            .AddPolicy(KeyedCallerPolicy, policy => KeyedCaller(policy, hasKey))
            .AddPolicy(MetricsPolicy, policy => KeyedCaller(policy, hasKey && protectMetrics));
        return builder;
    }

    private static void KeyedCaller(AuthorizationPolicyBuilder policy, bool needsKey)
    {
        policy.AddAuthenticationSchemes(Scheme);
        if (needsKey)
        {
            policy.RequireAuthenticatedUser();
        }
        else
        {
            policy.RequireAssertion(_ => true);
        }
    }

    private sealed class StackKeyHandler(
        IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, LlmStackApiEndpoint endpoint)
        : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
    {
        private const string BearerPrefix = "Bearer ";

        protected override Task<AuthenticateResult> HandleAuthenticateAsync()
        {
            var header = Request.Headers.Authorization.ToString();
            if (endpoint.ApiKey is not { } key || !header.StartsWith(BearerPrefix, StringComparison.OrdinalIgnoreCase))
            {
                return Task.FromResult(AuthenticateResult.NoResult());
            }
            // Equal-length digests compared in constant time: neither the key's length nor a prefix leaks by timing.
            var presented = SHA256.HashData(Encoding.UTF8.GetBytes(header[BearerPrefix.Length..].Trim()));
            if (!CryptographicOperations.FixedTimeEquals(presented, SHA256.HashData(Encoding.UTF8.GetBytes(key))))
            {
                return Task.FromResult(AuthenticateResult.Fail("Incorrect key."));
            }
            var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, "stack-key")], StackKeyAuthentication.Scheme);
            return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), StackKeyAuthentication.Scheme)));
        }

        protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
        {
            Response.StatusCode = StatusCodes.Status401Unauthorized;
            Response.Headers.WWWAuthenticate = "Bearer";
            await Response.WriteAsync("Send the stack's API key as 'Authorization: Bearer <key>'.");
        }
    }
}
