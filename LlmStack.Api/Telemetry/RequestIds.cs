namespace LlmStack.Api.Telemetry;

/// <summary>
/// <c>x-request-id</c> on every response: the caller's own id when it sends a sane one (so that its logs and
/// ours can be joined), else a fresh one. It also becomes <see cref="HttpContext.TraceIdentifier"/>, which the
/// request log and ASP.NET Core's own logs carry.
/// </summary>
internal static class RequestIds
{
    public const string HeaderName = "x-request-id";

    private const int MaxLength = 128;

    public static WebApplication UseRequestIds(this WebApplication app)
    {
        app.Use((context, next) =>
        {
            var given = context.Request.Headers[HeaderName].ToString();
            context.TraceIdentifier = IsAcceptable(given) ? given : "req_" + Guid.CreateVersion7().ToString("N");
            // At OnStarting, not now: the exception handler clears headers before it writes an error.
            context.Response.OnStarting(() =>
            {
                context.Response.Headers[HeaderName] = context.TraceIdentifier;
                return Task.CompletedTask;
            });
            return next(context);
        });
        return app;
    }

    // Echoed into a header and into logs: printable ASCII only, so nothing can forge log lines or headers.
    private static bool IsAcceptable(string id) =>
        id.Length is > 0 and <= MaxLength && id.All(c => c is > ' ' and <= '~');
}
