using System.Security.Cryptography;

namespace LlmStack.Web.Security;

/// <summary>
/// Browser protections on every response of the Web UI: a Content-Security-Policy that runs only the app's own
/// scripts (plus, by a per-request nonce, the one inline import map Blazor writes) - so model output that slipped
/// past sanitising still could not run script - no framing by other sites, no MIME sniffing, no referrer to
/// other origins, and no access to camera, microphone or location.
/// </summary>
public static class SecurityHeaders
{
    private const string NonceKey = "llmstack.csp-nonce";

    /// <summary>The nonce of this request's policy, for the inline import map (<c>&lt;ImportMap nonce="..."/&gt;</c>).</summary>
    public static string CspNonce(this HttpContext context) =>
        context.Items[NonceKey] as string ?? throw new InvalidOperationException("UseSecurityHeaders() must run before the page renders.");

    public static WebApplication UseSecurityHeaders(this WebApplication app)
    {
        app.Use((context, next) =>
        {
            // Hex: nothing in it for HTML attribute encoding to change.
            var nonce = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
            context.Items[NonceKey] = nonce;
            context.Response.OnStarting(() =>
            {
                var headers = context.Response.Headers;
                headers.ContentSecurityPolicy = Policy(nonce);
                headers.XContentTypeOptions = "nosniff";
                headers.XFrameOptions = "DENY";
                headers["Referrer-Policy"] = "strict-origin-when-cross-origin";
                headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=()";
                headers["Cross-Origin-Opener-Policy"] = "same-origin";
                return Task.CompletedTask;
            });
            return next(context);
        });
        return app;
    }

    /// <remarks>
    /// Styles may be inline (Blazor and the components set style attributes); scripts may not. 'self' in
    /// connect-src covers the interactive page's WebSocket to the same origin.
    /// </remarks>
    internal static string Policy(string nonce) =>
        "default-src 'self'; " +
        $"script-src 'self' 'nonce-{nonce}'; " +
        "style-src 'self' 'unsafe-inline'; " +
        "img-src 'self' data:; " +
        "font-src 'self'; " +
        "connect-src 'self'; " +
        "object-src 'none'; " +
        "base-uri 'self'; " +
        "form-action 'self'; " +
        "frame-ancestors 'none'";
}
