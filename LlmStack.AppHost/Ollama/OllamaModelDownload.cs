using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OllamaSharp;

namespace LlmStack.AppHost.Ollama;

/// <summary>
/// Brings a model onto its Ollama server, reporting progress as the model resource's state and the pull's
/// steps in its log.
/// </summary>
internal static class OllamaModelDownload
{
    /// <summary>
    /// Pulls the model unless the server has it (or always, with <paramref name="pullAgain"/>), then marks it
    /// Running so that its health check starts. Returns the error that stopped the pull, if any.
    /// </summary>
    public static async Task<string?> EnsurePresentAsync(OllamaModelResource model, IServiceProvider services, bool pullAgain, CancellationToken cancellationToken)
    {
        var notifications = services.GetRequiredService<ResourceNotificationService>();
        var logger = services.GetRequiredService<ResourceLoggerService>().GetLogger(model);
        try
        {
            await notifications.PublishUpdateAsync(model, s => s with
            {
                State = new ResourceStateSnapshot($"Checking {model.ModelName}", KnownResourceStateStyles.Info),
            });

            using (var ollama = await OllamaApi.ConnectAsync(model.Parent, services, cancellationToken))
            {
                if (!pullAgain && await ollama.HasModelAsync(model.ModelName, cancellationToken))
                {
                    logger.LogInformation("{Model} is already on {Server}.", model.ModelName, model.Parent.Name);
                }
                else
                {
                    await PullAsync(ollama, model, notifications, logger, cancellationToken);
                }
            }

            await notifications.PublishUpdateAsync(model, s => s with
            {
                State = new ResourceStateSnapshot(KnownResourceStates.Running, KnownResourceStateStyles.Success),
                StartTimeStamp = s.StartTimeStamp ?? DateTime.UtcNow,
            });
            return null;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return "Cancelled.";
        }
        catch (Exception ex)
        {
            // FailedToStart, not a custom error text: it releases whatever waits for the model instead of leaving it
            // waiting forever.
            logger.LogError(ex, "Could not pull {Model} onto {Server}: {Message}", model.ModelName, model.Parent.Name, ex.Message);
            await notifications.PublishUpdateAsync(model, s => s with
            {
                State = new ResourceStateSnapshot(KnownResourceStates.FailedToStart, KnownResourceStateStyles.Error),
            });
            return ex.Message;
        }
    }

    private static async Task PullAsync(
        OllamaApiClient ollama, OllamaModelResource model, ResourceNotificationService notifications, ILogger logger, CancellationToken cancellationToken)
    {
        logger.LogInformation("Pulling {Model} onto {Server}...", model.ModelName, model.Parent.Name);
        await PublishProgressAsync(notifications, model, percent: null);

        // Ollama reports each layer (by digest) separately; the sum over layers is the progress of the model.
        var layers = new Dictionary<string, (long Completed, long Total)>();
        int? percent = null;
        string? step = null;
        await foreach (var status in ollama.PullModelAsync(model.ModelName, cancellationToken))
        {
            if (status is null)
            {
                continue;
            }
            if (status.Status != step)
            {
                step = status.Status;
                logger.LogInformation("{Model}: {Step}", model.ModelName, step);
            }
            if (status.Total <= 0 || string.IsNullOrEmpty(status.Digest))
            {
                continue;
            }

            layers[status.Digest] = (status.Completed, status.Total);
            var total = layers.Values.Sum(l => l.Total);
            var now = (int)(100 * layers.Values.Sum(l => l.Completed) / total);
            if (now != percent)
            {
                if (now / 10 != percent / 10)
                {
                    logger.LogInformation("{Model}: {Percent}% of {Size} GB", model.ModelName, now,
                        (total / 1e9).ToString("0.0", CultureInfo.InvariantCulture));
                }
                percent = now;
                await PublishProgressAsync(notifications, model, percent);
            }
        }

        logger.LogInformation("Pulled {Model}.", model.ModelName);
    }

    private static Task PublishProgressAsync(ResourceNotificationService notifications, OllamaModelResource model, int? percent) =>
        notifications.PublishUpdateAsync(model, s => s with
        {
            State = new ResourceStateSnapshot(
                percent is { } p ? $"Downloading {model.ModelName} {p}%" : $"Downloading {model.ModelName}",
                KnownResourceStateStyles.Info),
        });
}
