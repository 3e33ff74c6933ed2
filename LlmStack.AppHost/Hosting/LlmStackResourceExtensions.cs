using Aspire.Hosting.ApplicationModel;
using LlmStack.AppHost.Ollama;
using Microsoft.Extensions.Configuration;

namespace LlmStack.AppHost.Hosting;

public static class LlmStackResourceExtensions
{
    /// <summary>Configuration key: <c>false</c> stops the services from exporting OpenTelemetry over OTLP.</summary>
    public const string OtlpExportKey = "Telemetry:OtlpExport";

    /// <summary>
    /// Serves <paramref name="model"/> from the API through its configuration contract
    /// (<c>LlmStack:Models:&lt;index&gt;:*</c>, as <c>LlmStack__Models__&lt;index&gt;__*</c> environment variables):
    /// the model's Ollama name as the id clients send, the <c>ollama</c> backend, the server's URL as endpoint.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithOllamaModel(
        this IResourceBuilder<ProjectResource> api, IResourceBuilder<OllamaModelResource> model, int index = 0)
    {
        ArgumentNullException.ThrowIfNull(api);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfNegative(index);

        foreach (var (key, value) in OllamaModelSettings(model.Resource, index))
        {
            api.WithEnvironment(context => context.EnvironmentVariables[key] = value);
        }
        return api
            .WithReferenceRelationship(model.Resource);
    }

    /// <summary>The API's settings (<c>LlmStack__Models__&lt;index&gt;__*</c>) that serve an Ollama model from its server.</summary>
    internal static Dictionary<string, object> OllamaModelSettings(OllamaModelResource model, int index = 0) =>
        ModelSettings(model.ModelName, "ollama", model.Parent.UriExpression, index: index);

    /// <summary>
    /// The API's configuration contract for one model, as environment variables: the id clients send, the backend,
    /// its endpoint, and the model's name there when it differs from the id.
    /// </summary>
    internal static Dictionary<string, object> ModelSettings(string id, string backend, ReferenceExpression endpoint, string? upstreamModel = null, int index = 0)
    {
        var prefix = $"LlmStack__Models__{index}__";
        var settings = new Dictionary<string, object>(StringComparer.Ordinal)
        {
            [prefix + "Id"] = id,
            [prefix + "Backend"] = backend,
            [prefix + "Endpoint"] = endpoint,
        };
        if (upstreamModel is not null)
        {
            settings[prefix + "UpstreamModel"] = upstreamModel;
        }
        return settings;
    }

    /// <summary>
    /// The Web's <c>ModelDownload:DashboardUrl</c>: the dashboard's console log of <paramref name="model"/>, where the
    /// pull's progress shows ("qwen2.5:7b: 40% of 4.7 GB"). The chat page links to it while the model downloads.
    /// </summary>
    public const string ModelDownloadLinkVariable = "ModelDownload__DashboardUrl";

    /// <summary>
    /// Gives the Web the dashboard page that shows <paramref name="model"/>'s download (its console log: an Ollama model's
    /// pull, or the download of the model the API runs in-process), when the
    /// dashboard's address is known (<c>ASPNETCORE_URLS</c> of the AppHost: its launch profile sets it). Nothing
    /// in publish mode: a deployment has no dashboard of the AppHost's.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithModelDownloadLink<TModel>(
        this IResourceBuilder<ProjectResource> web, IResourceBuilder<TModel> model)
        where TModel : IResource
    {
        ArgumentNullException.ThrowIfNull(web);
        ArgumentNullException.ThrowIfNull(model);

        var builder = web.ApplicationBuilder;
        var dashboard = (builder.Configuration["ASPNETCORE_URLS"] ?? "")
            .Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(url => Uri.TryCreate(url, UriKind.Absolute, out var uri) ? uri : null)
            .FirstOrDefault(uri => uri is { Scheme: "http" or "https" });
        if (builder.ExecutionContext.IsPublishMode || dashboard is null)
        {
            return web;
        }
        var logs = new Uri(dashboard, $"/consolelogs/resource/{Uri.EscapeDataString(model.Resource.Name)}");
        return web.WithEnvironment(ModelDownloadLinkVariable, logs.AbsoluteUri);
    }

    /// <summary>
    /// With <c>Telemetry:OtlpExport=false</c> (the end-to-end tests set it), clears the OTLP endpoint Aspire gives
    /// every project. The testing host runs no dashboard to receive telemetry, and exporters retrying into the
    /// void made each service take ~13 s to stop; ServiceDefaults skips the exporter when the endpoint is blank.
    /// </summary>
    public static IDistributedApplicationBuilder ApplyOtlpExportSetting(this IDistributedApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);

        if (builder.Configuration.GetValue(OtlpExportKey, defaultValue: true))
        {
            return builder;
        }
        builder.Eventing.Subscribe<BeforeStartEvent>((e, _) =>
        {
            // Added last, so it runs after Aspire's own OTLP callback and overrides it.
            foreach (var project in e.Model.Resources.OfType<ProjectResource>())
            {
                project.Annotations.Add(new EnvironmentCallbackAnnotation(
                    context => context.EnvironmentVariables["OTEL_EXPORTER_OTLP_ENDPOINT"] = ""));
            }
            return Task.CompletedTask;
        });
        return builder;
    }
}
