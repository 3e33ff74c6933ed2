using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace LlmStack.AppHost.Embedded;

/// <summary>
/// Keeps the model resource true to its API: follows the download each time the API is up (a restarted API starts
/// over, resuming its download), and when the API stops or fails to start - a configuration it refused, a crash -
/// says in the model's state and log that the model is not served, instead of leaving it waiting in silence.
/// </summary>
internal sealed class EmbeddedModelFollower(EmbeddedModelResource model, ParameterResource apiKey)
{
    private readonly Lock _lock = new();
    private CancellationTokenSource? _following;

    /// <summary>The API answers: follow the model from now on.</summary>
    public void Follow(IServiceProvider services)
    {
        var next = CancellationTokenSource.CreateLinkedTokenSource(Stopping(services));
        Replace(next);
        // Beside the ready event, not in it: a download may last many minutes.
        _ = EmbeddedModelDownload.FollowAsync(model, apiKey, services, next.Token);
    }

    /// <summary>Watches the API's state for as long as the AppHost runs.</summary>
    public void WatchApi(IServiceProvider services) => _ = WatchApiAsync(services);

    private async Task WatchApiAsync(IServiceProvider services)
    {
        var stopping = Stopping(services);
        var notifications = services.GetRequiredService<ResourceNotificationService>();
        var logger = services.GetRequiredService<ResourceLoggerService>().GetLogger(model);
        string? last = null;
        try
        {
            await foreach (var update in notifications.WatchAsync(stopping))
            {
                if (update.Resource != model.Parent || update.Snapshot.State?.Text is not { } state || state == last)
                {
                    continue;
                }
                last = state;
                if (stopping.IsCancellationRequested
                    || !(state == KnownResourceStates.Exited || state == KnownResourceStates.FailedToStart || state == KnownResourceStates.Finished))
                {
                    continue;
                }
                Replace(null);
                var wasServed = notifications.TryGetCurrentState(model.Name, out var current) && current.Snapshot.State?.Text == KnownResourceStates.Running;
                logger.LogError("The API is {State}: {Model} is not served. The API's log says why; started again, it resumes the download.",
                    state, model.ModelId);
                await notifications.PublishUpdateAsync(model, s => s with
                {
                    State = new ResourceStateSnapshot(wasServed ? KnownResourceStates.Exited : KnownResourceStates.FailedToStart, KnownResourceStateStyles.Error),
                });
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // The AppHost is stopping.
        }
    }

    private void Replace(CancellationTokenSource? next)
    {
        CancellationTokenSource? previous;
        lock (_lock)
        {
            previous = _following;
            _following = next;
        }
        // Cancelled, not disposed: the follow loop may still be reading its token.
        previous?.Cancel();
    }

    private static CancellationToken Stopping(IServiceProvider services) =>
        services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;
}
