using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LlmStack.AppHost.Embedded;

/// <summary>
/// Follows the API bringing an embedded model up and shows it as the model resource's state, as the Ollama model
/// shows its pull: <c>Checking</c> while the API asks the hub, <c>Downloading &lt;model&gt; 42%</c>, <c>Loading</c>
/// once the file is complete (verified, memory-checked, loaded), then Running; FailedToStart with the API's reason
/// in the log when it cannot be had. The log also gets the API's own sentence (speed, time left, retries) at each
/// tenth of the download.
/// </summary>
internal static class EmbeddedModelDownload
{
    /// <summary>How often the API is asked while the model is on its way.</summary>
    public static readonly TimeSpan PollEvery = TimeSpan.FromSeconds(1);

    /// <summary>Follows the model until the API reports it ready or failed, or <paramref name="cancellationToken"/> ends it.</summary>
    public static async Task FollowAsync(EmbeddedModelResource model, ParameterResource apiKey, IServiceProvider services,
        CancellationToken cancellationToken)
    {
        var notifications = services.GetRequiredService<ResourceNotificationService>();
        var logger = services.GetRequiredService<ResourceLoggerService>().GetLogger(model);
        logger.LogInformation("The API downloads {Source} into its model cache, verifies it and loads it; clients send \"model\": \"{Model}\".",
            model.Source, model.ModelId);
        string? state = null;
        string? lastDetail = null;
        int? loggedDecade = null;
        string? unanswered = null;
        try
        {
            var key = await apiKey.GetValueAsync(cancellationToken) ?? "";
            while (true)
            {
                ApiModelStatus status;
                try
                {
                    status = await ApiModelStatus.ReadAsync(model, key, services, cancellationToken);
                    unanswered = null;
                }
                catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or System.Text.Json.JsonException
                                           && !cancellationToken.IsCancellationRequested)
                {
                    if (unanswered != ex.Message)
                    {
                        unanswered = ex.Message;
                        logger.LogWarning("The API does not answer about {Model} ({Error}); asking again.", model.ModelId, ex.Message);
                    }
                    await Task.Delay(PollEvery, cancellationToken);
                    continue;
                }

                switch (status.Readiness)
                {
                    case ModelReadiness.Ready:
                        logger.LogInformation("{Model} is ready: {Detail}.", model.ModelId, status.Detail);
                        await notifications.PublishUpdateAsync(model, s => s with
                        {
                            State = new ResourceStateSnapshot(KnownResourceStates.Running, KnownResourceStateStyles.Success),
                            StartTimeStamp = s.StartTimeStamp ?? DateTime.UtcNow,
                        });
                        return;
                    case ModelReadiness.Failed:
                        // FailedToStart, as for a failed Ollama pull: nothing is left waiting for a model that will not come.
                        logger.LogError("{Model} cannot be served: {Detail}", model.ModelId, status.Detail);
                        await notifications.PublishUpdateAsync(model, s => s with
                        {
                            State = new ResourceStateSnapshot(KnownResourceStates.FailedToStart, KnownResourceStateStyles.Error),
                        });
                        return;
                }

                var now = StateText(model, status);
                if (now != state)
                {
                    state = now;
                    await notifications.PublishUpdateAsync(model, s => s with { State = new ResourceStateSnapshot(now, KnownResourceStateStyles.Info) });
                }
                // The API's sentence at each tenth of the download, and whenever it turns to something else (verifying, a retry).
                var decade = status.Percent / 10;
                if (status.Detail is { } detail && (decade != loggedDecade || Step(detail) != Step(lastDetail)))
                {
                    loggedDecade = decade;
                    lastDetail = detail;
                    logger.LogInformation("{Model}: {Detail}", model.ModelId, detail);
                }
                await Task.Delay(PollEvery, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The AppHost is stopping, or the API restarted and is followed anew.
        }
    }

    internal static string StateText(EmbeddedModelResource model, ApiModelStatus status) => status switch
    {
        { Readiness: ModelReadiness.Unknown } => KnownResourceStates.Waiting,
        { TotalBytes: 0 } => $"Checking {model.ModelId}",
        { Percent: < 100 } => $"Downloading {model.ModelId} {status.Percent}%",
        _ => $"Loading {model.ModelId}",
    };

    // The step the API's sentence names: "asking the hub ...", "downloading ...", "downloading ...; retrying in 4 s after ...",
    // "verifying ...", "loading ...".
    private static string? Step(string? detail) =>
        detail is null ? null : detail.Contains("; retrying", StringComparison.Ordinal) ? "retrying" : detail.Split(' ', 2)[0];
}
