using System.Text.RegularExpressions;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;

namespace LlmStack.AppHost.Ollama;

/// <summary>Adds models to an Ollama server: pulled once the server is healthy, healthy once present.</summary>
public static partial class OllamaModelResourceBuilderExtensions
{
    /// <summary>
    /// Adds <paramref name="modelName"/> (e.g. <c>qwen2.5:7b</c>) to the server, as a child resource named
    /// after the model (<c>qwen2-5-7b</c>).
    /// </summary>
    public static IResourceBuilder<OllamaModelResource> AddModel<TServer>(this IResourceBuilder<TServer> server, string modelName)
        where TServer : IOllamaResource
    {
        ArgumentNullException.ThrowIfNull(server);
        ArgumentException.ThrowIfNullOrWhiteSpace(modelName);

        return server.AddModel(ResourceNameFor(modelName), modelName);
    }

    /// <summary>
    /// Adds <paramref name="modelName"/> to the server as the child resource <paramref name="name"/>. Once the
    /// server is healthy the model is pulled unless present, with progress as the resource's state
    /// ("Downloading qwen2.5:7b 42%") and the pull's log as its log. Its health check asks Ollama whether the
    /// model is present, so <c>WaitFor(model)</c> waits for the download. The dashboard gets a "Pull again" command.
    /// </summary>
    public static IResourceBuilder<OllamaModelResource> AddModel<TServer>(this IResourceBuilder<TServer> server, [ResourceName] string name, string modelName)
        where TServer : IOllamaResource
    {
        ArgumentNullException.ThrowIfNull(server);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentException.ThrowIfNullOrWhiteSpace(modelName);

        var builder = server.ApplicationBuilder;
        var model = new OllamaModelResource(name, modelName, server.Resource);

        var healthCheckKey = $"{name}_ollama_model_check";
        builder.Services.AddOllamaHttpClient();
        builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
            healthCheckKey,
            services => new OllamaModelHealthCheck(model, services),
            failureStatus: null,
            tags: null,
            timeout: OllamaApi.ProbeTimeout));

        builder.Eventing.Subscribe<ResourceReadyEvent>(server.Resource, (e, _) =>
        {
            BeginPull(model, e.Services);
            return Task.CompletedTask;
        });

        return builder.AddResource(model)
            .WithInitialState(new CustomResourceSnapshot
            {
                ResourceType = "OllamaModel",
                State = KnownResourceStates.Waiting,
                Properties = [new(CustomResourceKnownProperties.Source, modelName)],
            })
            .WithIconName("Box")
            .WithHealthCheck(healthCheckKey)
            .WithCommand(
                name: "pull-model",
                displayName: "Pull again",
                executeCommand: async context =>
                {
                    var error = await OllamaModelDownload.EnsurePresentAsync(model, context.Services, pullAgain: true, context.CancellationToken);
                    return error is null ? CommandResults.Success($"{modelName} is up to date.") : CommandResults.Failure(error);
                },
                commandOptions: new CommandOptions
                {
                    Description = $"Pull {modelName} again: fetches a newer build of the tag, repairs a broken download.",
                    IconName = "ArrowDownload",
                    UpdateState = context => context.ResourceSnapshot.State?.Text is { } state
                        && (state == KnownResourceStates.Running || state == KnownResourceStates.FailedToStart)
                            ? ResourceCommandState.Enabled
                            : ResourceCommandState.Disabled,
                })
            // Pulling is a development-time convenience; a deployment pulls on its own host (see README).
            .ExcludeFromManifest();
    }

    // The pull may last many minutes: it runs beside the ready event, which would otherwise hold back everything
    // that waits for the server.
    private static void BeginPull(OllamaModelResource model, IServiceProvider services)
    {
        var stopping = services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;
        _ = OllamaModelDownload.EnsurePresentAsync(model, services, pullAgain: false, stopping);
    }

    /// <summary><c>qwen2.5:7b</c> becomes <c>qwen2-5-7b</c>: resource names allow letters, digits and single hyphens.</summary>
    internal static string ResourceNameFor(string modelName)
    {
        var name = NonNameCharacters().Replace(modelName.ToLowerInvariant(), "-").Trim('-');
        return name.Length == 0 || !char.IsAsciiLetter(name[0]) ? $"model-{name}".TrimEnd('-') : name;
    }

    [GeneratedRegex("[^a-z0-9]+")]
    private static partial Regex NonNameCharacters();
}
