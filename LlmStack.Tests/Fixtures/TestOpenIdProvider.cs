using System.Collections.Concurrent;
using System.Net;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace LlmStack.Tests.Fixtures;

/// <summary>
/// A small OpenID Connect provider on a loopback port, for the Web's sign-in at an identity provider: discovery
/// document, signing keys (JWKS, RS256), the authorization endpoint with a sign-in form where a person types the email
/// address to sign in as, and the token endpoint of the authorization code flow - which checks the client, the
/// redirect URL, single use of the code and the PKCE verifier (S256), and signs an ID token with the request's nonce.
/// Real enough that the ASP.NET Core OpenID Connect handler talks to it exactly as to Entra ID or Keycloak.
/// </summary>
public sealed class TestOpenIdProvider : IAsyncDisposable
{
    public const string ClientId = "llmstack-web";
    public const string ClientSecret = "test-client-secret-0123456789";

    private readonly RSA _rsa = RSA.Create(2048);
    private readonly string _keyId = Guid.NewGuid().ToString("n");
    private readonly ConcurrentDictionary<string, Grant> _codes = new();
    private readonly ConcurrentBag<Uri> _redirects = [];
    private LoopbackWebServer _server = null!;
    private int _tokensIssued;

    private TestOpenIdProvider()
    {
    }

    /// <summary>The issuer, and what the Web takes as <c>LlmStack:Accounts:Oidc:Authority</c> (no trailing slash).</summary>
    public Uri Authority { get; private set; } = null!;

    /// <summary>ID tokens issued for a code whose PKCE verifier matched its challenge.</summary>
    public int TokensIssued => _tokensIssued;

    public static async Task<TestOpenIdProvider> StartAsync()
    {
        var provider = new TestOpenIdProvider();
        provider._server = await LoopbackWebServer.StartAsync(app =>
        {
            app.MapGet("/.well-known/openid-configuration", provider.Discovery);
            app.MapGet("/jwks", provider.Keys);
            app.MapGet("/authorize", provider.SignInForm);
            app.MapPost("/authorize", provider.AuthorizeAsync);
            app.MapPost("/token", provider.TokenAsync);
        });
        provider.Authority = new Uri(provider._server.RootAddress.GetLeftPart(UriPartial.Authority));
        return provider;
    }

    /// <summary>Registers a redirect URL of the client (the Web's <c>/signin-oidc</c>); any other is refused.</summary>
    public void AllowRedirect(Uri redirect) => _redirects.Add(redirect);

    private string Issuer => Authority.AbsoluteUri.TrimEnd('/');

    private IResult Discovery() => Results.Json(new Dictionary<string, object>
    {
        ["issuer"] = Issuer,
        ["authorization_endpoint"] = $"{Issuer}/authorize",
        ["token_endpoint"] = $"{Issuer}/token",
        ["jwks_uri"] = $"{Issuer}/jwks",
        ["response_types_supported"] = new[] { "code" },
        ["response_modes_supported"] = new[] { "query", "form_post" },
        ["subject_types_supported"] = new[] { "public" },
        ["id_token_signing_alg_values_supported"] = new[] { "RS256" },
        ["code_challenge_methods_supported"] = new[] { "S256" },
        ["scopes_supported"] = new[] { "openid", "profile", "email" },
        ["token_endpoint_auth_methods_supported"] = new[] { "client_secret_post", "client_secret_basic" },
    });

    private IResult Keys()
    {
        var parameters = _rsa.ExportParameters(includePrivateParameters: false);
        return Results.Json(new
        {
            keys = new[]
            {
                new { kty = "RSA", use = "sig", alg = "RS256", kid = _keyId, n = Base64UrlEncoder.Encode(parameters.Modulus), e = Base64UrlEncoder.Encode(parameters.Exponent) },
            },
        });
    }

    /// <summary>GET /authorize: checks the request and shows the provider's own sign-in form, carrying the request along.</summary>
    private IResult SignInForm(HttpRequest request)
    {
        var query = request.Query;
        if (Refuse(query["client_id"], query["redirect_uri"], query["response_type"], query["code_challenge_method"]) is { } refusal)
        {
            return Results.BadRequest(refusal);
        }
        var hidden = new StringBuilder();
        foreach (var name in new[] { "client_id", "redirect_uri", "state", "nonce", "code_challenge", "response_mode", "scope" })
        {
            hidden.Append($"""<input type="hidden" name="{name}" value="{HtmlEncoder.Default.Encode(query[name].ToString())}">""");
        }
        return Results.Content($"""
            <!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Test identity provider</title></head>
            <body><h1>Test identity provider</h1>
            <form method="post" action="/authorize">{hidden}
            <label for="email">Email</label> <input id="email" name="email" type="email">
            <button type="submit">Sign in at the provider</button></form></body></html>
            """, "text/html; charset=utf-8");
    }

    /// <summary>POST /authorize: the person signed in; a one-time code goes back to the client, by form post or query.</summary>
    private async Task<IResult> AuthorizeAsync(HttpRequest request)
    {
        var form = await request.ReadFormAsync();
        if (Refuse(form["client_id"], form["redirect_uri"], "code", "S256") is { } refusal)
        {
            return Results.BadRequest(refusal);
        }
        var email = form["email"].ToString();
        var code = Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(32));
        _codes[code] = new Grant(form["redirect_uri"]!, form["nonce"].ToString(), form["code_challenge"]!, email);
        var redirect = form["redirect_uri"].ToString();
        var state = form["state"].ToString();
        if (form["response_mode"] == "form_post")
        {
            return Results.Content($"""
                <!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Signing in</title></head>
                <body onload="document.forms[0].submit()"><form method="post" action="{HtmlEncoder.Default.Encode(redirect)}">
                <input type="hidden" name="code" value="{code}"><input type="hidden" name="state" value="{HtmlEncoder.Default.Encode(state)}">
                <noscript><button type="submit">Continue</button></noscript></form></body></html>
                """, "text/html; charset=utf-8");
        }
        return Results.Redirect($"{redirect}?code={code}&state={Uri.EscapeDataString(state)}");
    }

    /// <summary>POST /token: the authorization code, once, for the client that asked, with the PKCE verifier.</summary>
    private async Task<IResult> TokenAsync(HttpRequest request)
    {
        var form = await request.ReadFormAsync();
        var (clientId, secret) = ClientCredentials(request, form);
        if (clientId != ClientId || secret != ClientSecret)
        {
            return Results.Json(new { error = "invalid_client" }, statusCode: StatusCodes.Status401Unauthorized);
        }
        if (form["grant_type"] != "authorization_code" || !_codes.TryRemove(form["code"].ToString(), out var grant)
            || grant.RedirectUri != form["redirect_uri"])
        {
            return Results.Json(new { error = "invalid_grant" }, statusCode: StatusCodes.Status400BadRequest);
        }
        var challenge = Base64UrlEncoder.Encode(SHA256.HashData(Encoding.ASCII.GetBytes(form["code_verifier"].ToString())));
        if (challenge != grant.CodeChallenge)
        {
            return Results.Json(new { error = "invalid_grant", error_description = "PKCE verification failed" }, statusCode: StatusCodes.Status400BadRequest);
        }
        var now = DateTime.UtcNow;
        var idToken = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = Issuer,
            Audience = ClientId,
            IssuedAt = now,
            NotBefore = now,
            Expires = now.AddMinutes(5),
            Subject = new ClaimsIdentity(
            [
                new Claim("sub", "sub-" + Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(grant.Email)))[..16]),
                new Claim("email", grant.Email),
                new Claim("email_verified", "true", ClaimValueTypes.Boolean),
                new Claim("name", grant.Email.Split('@')[0]),
                new Claim("nonce", grant.Nonce),
            ]),
            SigningCredentials = new SigningCredentials(new RsaSecurityKey(_rsa) { KeyId = _keyId }, SecurityAlgorithms.RsaSha256),
        });
        Interlocked.Increment(ref _tokensIssued);
        return Results.Json(new Dictionary<string, object>
        {
            ["access_token"] = Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(32)),
            ["token_type"] = "Bearer",
            ["expires_in"] = 300,
            ["id_token"] = idToken,
        });
    }

    private string? Refuse(string? clientId, string? redirectUri, string? responseType, string? challengeMethod) =>
        clientId != ClientId ? "unknown client_id"
        : redirectUri is null || !_redirects.Contains(new Uri(redirectUri)) ? $"redirect_uri {redirectUri} is not registered"
        : responseType != "code" ? "only response_type=code"
        : challengeMethod != "S256" ? "PKCE with S256 is required"
        : null;

    private static (string? Id, string? Secret) ClientCredentials(HttpRequest request, IFormCollection form)
    {
        if (request.Headers.Authorization.ToString() is { } header && header.StartsWith("Basic ", StringComparison.Ordinal))
        {
            var pair = Encoding.UTF8.GetString(Convert.FromBase64String(header["Basic ".Length..])).Split(':', 2);
            return (WebUtility.UrlDecode(pair[0]), pair.Length > 1 ? WebUtility.UrlDecode(pair[1]) : null);
        }
        return (form["client_id"], form["client_secret"]);
    }

    public async ValueTask DisposeAsync()
    {
        await _server.DisposeAsync();
        _rsa.Dispose();
    }

    private sealed record Grant(string RedirectUri, string Nonce, string CodeChallenge, string Email);
}
