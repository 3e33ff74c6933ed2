using Aspire.Hosting;
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

        var prefix = $"LlmStack__Models__{index}__";
        return api
            .WithEnvironment(prefix + "Id", model.Resource.ModelName)
            .WithEnvironment(prefix + "Backend", "ollama")
            .WithEnvironment(prefix + "Endpoint", model.Resource.Parent.UriExpression)
            .WithReferenceRelationship(model.Resource);
    }

    /// <summary>
    /// The Web's <c>ModelDownload:DashboardUrl</c>: the dashboard's console log of <paramref name="model"/>, where the
    /// pull's progress shows ("qwen2.5:7b: 40% of 4.7 GB"). The chat page links to it while the model downloads.
    /// </summary>
    public const string ModelDownloadLinkVariable = "ModelDownload__DashboardUrl";

    /// <summary>
    /// Gives the Web the dashboard page that shows <paramref name="model"/>'s download (its console log), when the
    /// dashboard's address is known (<c>ASPNETCORE_URLS</c> of the AppHost: its launch profile sets it). Nothing
    /// in publish mode: a deployment has no dashboard of the AppHost's.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithModelDownloadLink(
        this IResourceBuilder<ProjectResource> web, IResourceBuilder<OllamaModelResource> model)
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
