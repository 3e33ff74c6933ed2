using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace LlmStack.Api.Backends.Upstream;

/// <summary>
/// The readiness probe of a model behind a backend server, once for every HTTP backend: the backend's own
/// question (is the model pulled? listed?) asked within a bound, and a server that does not answer reported
/// with the reason (refused, connect timeout, no answer in time, the server's error).
/// </summary>
internal static class UpstreamReadiness
{
    // A probe that waits longer than this only tells the prober what a timeout would: the server is stuck.
    public static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(10);

    /// <param name="server">How messages name the server, e.g. <c>Ollama at http://localhost:11434</c>.</param>
    /// <param name="probe">The backend's question; it reports a model the server lacks itself.</param>
    public static async Task<HealthCheckResult> ProbeAsync(
        string server, Func<CancellationToken, Task<HealthCheckResult>> probe, CancellationToken cancellationToken)
    {
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(ProbeTimeout);
        try
        {
            return await probe(bounded.Token);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested && ex is not OutOfMemoryException)
        {
            if (!bounded.IsCancellationRequested && UpstreamErrors.Find<UpstreamHttpException>(ex) is { } upstream)
            {
                return HealthCheckResult.Unhealthy($"{server} answered {upstream.Message}", ex);
            }
            var reason = bounded.IsCancellationRequested ? $"no answer within {ProbeTimeout.TotalSeconds:0} s"
                : UpstreamErrors.Find<TimeoutException>(ex) is { } connectTimeout ? connectTimeout.Message
                : (UpstreamErrors.Find<HttpRequestException>(ex) ?? ex).Message;
            return HealthCheckResult.Unhealthy($"{server} is unreachable: {reason}", ex);
        }
    }
}
