using Aspire.Hosting.ApplicationModel;
using LlmStack.AppHost.Ollama;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace LlmStack.AppHost.Hosting;

/// <summary>
/// Where the Ollama container cannot run, the AppHost says so - on the console in one plain line and in the
/// dashboard - instead of waiting in silence for a container that will never start.
/// </summary>
internal static class OllamaContainerFailures
{
    /// <summary>
    /// Shows the Ollama resource as failed in the dashboard, with <paramref name="failure"/> as its state's reason
    /// and in its log, when the container was asked for but cannot be had.
    /// </summary>
    public static IResourceBuilder<UnavailableOllamaResource> AddFailedOllama(this IDistributedApplicationBuilder builder, string name, string failure)
    {
        var resource = new UnavailableOllamaResource(name, failure);
        builder.Eventing.Subscribe<InitializeResourceEvent>(resource, (e, _) =>
        {
            e.Logger.LogError("{Failure}", failure);
            return Task.CompletedTask;
        });
        return builder.AddResource(resource)
            .WithInitialState(new CustomResourceSnapshot
            {
                ResourceType = "Ollama",
                State = new ResourceStateSnapshot(KnownResourceStates.FailedToStart, KnownResourceStateStyles.Error),
                Properties = [new("Failure", failure)],
            })
            .WithIconName("BrainCircuit")
            .ExcludeFromManifest();
    }

    /// <summary>
    /// Prints one line on <paramref name="console"/> (and logs it to the resource) when the container ends up failed
    /// to start, exited, or its runtime unhealthy: its state, exit code and last log line - the engine's words.
    /// </summary>
    public static IResourceBuilder<OllamaResource> WithStartFailureReport(this IResourceBuilder<OllamaResource> builder, TextWriter console)
    {
        if (builder.ApplicationBuilder.ExecutionContext.IsRunMode)
        {
            builder.ApplicationBuilder.Services.AddHostedService(services => new ContainerStartFailureReport(
                builder.Resource, console,
                services.GetRequiredService<ResourceNotificationService>(),
                services.GetRequiredService<ResourceLoggerService>()));
        }
        return builder;
    }
}

/// <summary>An Ollama server that was asked for but cannot run here; the dashboard shows it failed, with the reason.</summary>
internal sealed class UnavailableOllamaResource(string name, string failure) : Resource(name)
{
    public string Failure { get; } = failure;
}

/// <summary>Watches one container and reports, once, that it did not start or stopped.</summary>
internal sealed class ContainerStartFailureReport(
    ContainerResource container, TextWriter console, ResourceNotificationService notifications, ResourceLoggerService logs) : BackgroundService
{
    private static readonly HashSet<string> FailedStates =
        [KnownResourceStates.FailedToStart, KnownResourceStates.Exited, KnownResourceStates.RuntimeUnhealthy];

    private volatile string? _lastLogLine;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _ = FollowLogAsync(stoppingToken);
        try
        {
            await foreach (var update in notifications.WatchAsync(stoppingToken))
            {
                if (update.Resource != container || update.Snapshot.State?.Text is not { } state || !FailedStates.Contains(state))
                {
                    continue;
                }
                // The log's last line arrives with, or just after, the state change.
                await Task.Delay(TimeSpan.FromMilliseconds(500), stoppingToken);
                var exit = update.Snapshot.ExitCode is { } code ? $", exit code {code}" : "";
                var line =
                    $"Ollama: container failed - the '{container.Name}' container is {state}{exit}: {_lastLogLine ?? "the engine gave no message"}. " +
                    $"To fix: read its log (dashboard, or docker logs), check {OllamaHostingSettings.ImageKey}/{OllamaHostingSettings.ImageTagKey}, " +
                    $"or choose another {OllamaHostingSettings.ModeKey} ({OllamaHostingSettings.ModeChoices}).";
                console.WriteLine(line);
                logs.GetLogger(container).LogError("{Failure}", line);
                return;
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task FollowLogAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var batch in logs.WatchAsync(container).WithCancellation(stoppingToken))
            {
                if (batch.LastOrDefault(l => !string.IsNullOrWhiteSpace(l.Content)) is { } line)
                {
                    _lastLogLine = line.Content.Trim();
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
