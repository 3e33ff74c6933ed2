using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;

namespace LlmStack.AppHost.Embedded;

/// <summary>Runs a Hugging Face model in the API itself, shown in the dashboard as a child resource of the API.</summary>
public static class EmbeddedModelResourceBuilderExtensions
{
    /// <summary>The API's <c>HF_ENDPOINT</c> and <c>HF_TOKEN</c>: a hub mirror, and the token of gated or private repositories.</summary>
    public const string HubEndpointKey = "HF_ENDPOINT";

    public const string HubTokenKey = "HF_TOKEN";

    /// <summary>The secret parameter <c>HF_TOKEN</c> becomes, when it is set.</summary>
    public const string HubTokenParameter = "hf-token";

    /// <summary>
    /// Serves <paramref name="source"/> (<c>hf://...</c>) from the API, in-process, as <paramref name="modelId"/>, through its
    /// configuration contract (<c>LlmStack__Models__&lt;index&gt;__Id</c>, <c>Backend=embedded</c>, <c>Source</c>), with the
    /// AppHost's <c>HF_ENDPOINT</c> and <c>HF_TOKEN</c> (a secret parameter). The model is the child resource
    /// <paramref name="name"/>: once the API answers, its state follows the download (<c>Downloading &lt;model&gt; 42%</c>),
    /// read from the API's <c>/readyz</c> and <c>/metrics</c> with <paramref name="apiKey"/>, and it is healthy once the
    /// API reports the model ready.
    /// </summary>
    public static IResourceBuilder<EmbeddedModelResource> WithEmbeddedModel(this IResourceBuilder<ProjectResource> api,
        [ResourceName] string name, string modelId, string source, IResourceBuilder<ParameterResource> apiKey, int index = 0)
    {
        ArgumentNullException.ThrowIfNull(api);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentException.ThrowIfNullOrWhiteSpace(modelId);
        ArgumentException.ThrowIfNullOrWhiteSpace(source);
        ArgumentNullException.ThrowIfNull(apiKey);
        ArgumentOutOfRangeException.ThrowIfNegative(index);

        var builder = api.ApplicationBuilder;
        var prefix = $"LlmStack__Models__{index}__";
        api.WithEnvironment(prefix + "Id", modelId)
            .WithEnvironment(prefix + "Backend", "embedded")
            .WithEnvironment(prefix + "Source", source);
        if (builder.Configuration[HubEndpointKey] is { Length: > 0 } endpoint)
        {
            api.WithEnvironment(HubEndpointKey, endpoint);
        }
        if (builder.Configuration[HubTokenKey] is { Length: > 0 })
        {
            api.WithEnvironment(HubTokenKey, builder.AddParameterFromConfiguration(HubTokenParameter, HubTokenKey, secret: true));
        }

        var model = new EmbeddedModelResource(name, modelId, source, api.Resource);
        ApiModelStatus.AddApiHttpClient(builder.Services);
        var healthCheckKey = $"{name}_embedded_model_check";
        builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
            healthCheckKey,
            services => new EmbeddedModelHealthCheck(model, apiKey.Resource, services),
            failureStatus: null,
            tags: null,
            timeout: ApiModelStatus.ProbeTimeout));

        // Followed anew each time the API (re)starts: a restarted API starts over, resuming its download.
        CancellationTokenSource? following = null;
        builder.Eventing.Subscribe<ResourceReadyEvent>(api.Resource, async (e, cancellationToken) =>
        {
            if (following is not null)
            {
                await following.CancelAsync();
            }
            var stopping = e.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;
            following = CancellationTokenSource.CreateLinkedTokenSource(stopping);
            // Beside the ready event, not in it: a download may last many minutes.
            _ = EmbeddedModelDownload.FollowAsync(model, apiKey.Resource, e.Services, following.Token);
        });

        return builder.AddResource(model)
            .WithInitialState(new CustomResourceSnapshot
            {
                ResourceType = "EmbeddedModel",
                State = KnownResourceStates.Waiting,
                Properties = [new(CustomResourceKnownProperties.Source, source)],
            })
            .WithIconName("Box")
            .WithHealthCheck(healthCheckKey)
            // The API downloads it wherever it runs; a deployment names its model in its own settings (see README).
            .ExcludeFromManifest();
    }

    /// <summary>Healthy once the API reports the model ready in <c>/readyz</c>.</summary>
    private sealed class EmbeddedModelHealthCheck(EmbeddedModelResource model, ParameterResource apiKey, IServiceProvider services) : IHealthCheck
    {
        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            try
            {
                var status = await ApiModelStatus.ReadAsync(model, await apiKey.GetValueAsync(cancellationToken) ?? "", services, cancellationToken);
                return status.Readiness == ModelReadiness.Ready
                    ? HealthCheckResult.Healthy(status.Detail)
                    : HealthCheckResult.Unhealthy(status.Detail ?? $"the API does not report {model.ModelId} ready (yet)");
            }
            catch (HttpRequestException ex)
            {
                return HealthCheckResult.Unhealthy($"{model.Parent.Name} does not answer: {ex.Message}", ex);
            }
        }
    }
}
