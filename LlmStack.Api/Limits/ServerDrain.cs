using LlmStack.Api.Configuration;
using LlmStack.Api.Pipeline;
using Microsoft.Extensions.Options;

namespace LlmStack.Api.Limits;

/// <summary>
/// Graceful shutdown. When the host starts stopping (SIGTERM from docker stop or Kubernetes, Ctrl+C) the web
/// server stops accepting connections, a request still arriving on an open one is refused (503
/// <c>server_shutting_down</c>), and the requests in flight may finish for <c>LlmStack:DrainTimeout</c>. Then
/// <see cref="DrainEnded"/> fires and every request still running ends through its <see cref="RequestCutoff"/> -
/// a stream with an error event and <c>[DONE]</c>, not a cut connection. The host's shutdown timeout is set just
/// beyond the drain, so the server waits for those last events.
/// </summary>
internal sealed partial class ServerDrain(IHostApplicationLifetime lifetime, IOptions<LlmStackOptions> options, ILogger<ServerDrain> logger)
    : IHostedService, IDisposable
{
    // Time for cut-off requests to send their error events once the drain has ended.
    private static readonly TimeSpan CutoffGrace = TimeSpan.FromSeconds(2);

    // Not disposed: under WebApplicationFactory the host may be stopped once more after it was disposed, and the
    // source's timer ends by itself.
    private readonly CancellationTokenSource _drainEnded = new();
    private CancellationTokenRegistration _stopping;
    private volatile bool _draining;

    /// <summary>What the host gives the server to stop: the drain, then time for the last error events.</summary>
    public static TimeSpan ShutdownTimeout(TimeSpan drainTimeout) => drainTimeout + CutoffGrace;

    public bool IsDraining => _draining;

    public CancellationToken DrainEnded => _drainEnded.Token;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        // Read at start, not at construction: invalid options must fail the start with their message.
        var drainTimeout = options.Value.DrainTimeout;
        _stopping = lifetime.ApplicationStopping.Register(() =>
        {
            _draining = true;
            LogDraining(logger, drainTimeout.TotalSeconds);
            _drainEnded.CancelAfter(drainTimeout);
        });
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose() => _stopping.Dispose();

    [LoggerMessage(EventId = 20, Level = LogLevel.Information,
        Message = "Shutting down: no new requests; requests in flight have {DrainSeconds} s to finish (LlmStack:DrainTimeout), then end with an error event")]
    private static partial void LogDraining(ILogger logger, double drainSeconds);
}
