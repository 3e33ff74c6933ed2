using System.Security.Claims;
using System.Text.Encodings.Web;
using LlmStack.Api.Errors;
using LlmStack.Api.Telemetry;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace LlmStack.Api.Access;

internal static class ApiKeyDefaults
{
    public const string Scheme = "ApiKey";

    /// <summary>The policy of every <c>/v1</c> endpoint: a valid key when keys are configured.</summary>
    public const string Policy = "ApiKey";

    /// <summary>The policy of <c>/metrics</c>: a valid key when keys are configured and <c>LlmStack:Auth:ProtectMetrics</c> is on.</summary>
    public const string MetricsPolicy = "Metrics";

    /// <summary>The name of the key a request was authenticated with (logs, metrics, the model queue's turns); null without one.</summary>
    public static string? KeyNameOf(ClaimsPrincipal user) => user.Identity is { IsAuthenticated: true, Name: { } name } ? name : null;
}

/// <summary>
/// <c>Authorization: Bearer &lt;key&gt;</c>, what every OpenAI SDK sends. A missing or wrong key is answered
/// by <see cref="HandleChallengeAsync"/> with OpenAI's 401 <c>invalid_api_key</c> envelope before the endpoint
/// runs: no body is read, no model is touched.
/// </summary>
internal sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    ApiKeyDirectory keys,
    LlmStackMetrics metrics,
    IApiErrorWriter errors) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    private const string BearerPrefix = "Bearer ";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.ToString();
        if (!keys.Enabled || header.Length == 0)
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }
        if (!header.StartsWith(BearerPrefix, StringComparison.OrdinalIgnoreCase))
        {
            return Task.FromResult(AuthenticateResult.Fail("The Authorization header is not 'Bearer <key>'."));
        }
        if (keys.Find(header[BearerPrefix.Length..].Trim()) is not { } key)
        {
            return Task.FromResult(AuthenticateResult.Fail("Incorrect API key provided."));
        }
        var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, key.Name)], ApiKeyDefaults.Scheme);
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), ApiKeyDefaults.Scheme)));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var presented = Request.Headers.Authorization.Count > 0;
        metrics.Rejected(RejectionReason.Auth, model: null);
        Response.Headers.WWWAuthenticate = "Bearer";
        // Never echo the presented key (OpenAI shows a masked one): it may be a real secret sent to the wrong server.
        await errors.WriteAsync(Response, new ApiErrorException(
            StatusCodes.Status401Unauthorized, "invalid_request_error",
            presented
                ? "Incorrect API key provided. Send one of this server's keys as 'Authorization: Bearer <key>'."
                : "You didn't provide an API key. Send it in the Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            "invalid_api_key"));
    }
}
