#pragma warning disable ASPIREPIPELINES001 // The pipeline step API is how publishers plug in (the manifest is one).

using System.Reflection;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Pipelines;
using LlmStack.AppHost.Monitoring;
using LlmStack.AppHost.Proxy;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LlmStack.AppHost.Compose;

/// <summary>
/// <c>--publisher compose --output-path &lt;dir&gt;</c>: LlmStack's own Docker Compose publisher (Aspire's is not
/// available here). Writes <c>docker-compose.yaml</c>, <c>.env.example</c>, <c>prometheus/prometheus.yml</c> and
/// Grafana's provisioning and dashboard, all from the app model the AppHost builds.
/// </summary>
internal static class ComposePublishing
{
    public const string PublisherName = "compose";
    public const string StepName = "publish-compose";

    public const string ComposeFileName = "docker-compose.yaml";
    public const string EnvExampleFileName = ".env.example";
    public const string PrometheusConfigPath = "prometheus/prometheus.yml";
    public const string CaddyfilePath = "caddy/Caddyfile";
    public const string GrafanaDataSourcePath = "grafana/provisioning/datasources/prometheus.yml";
    public const string GrafanaProviderPath = "grafana/provisioning/dashboards/llmstack.yml";
    public const string GrafanaDashboardPath = "grafana/dashboards/llmstack.json";
    public const string ModelsFolder = "models";

    /// <summary>True when the AppHost runs as <c>--publisher compose</c>.</summary>
    public static bool IsComposePublishing(this IDistributedApplicationBuilder builder) =>
        builder.ExecutionContext.IsPublishMode
        && string.Equals(builder.ExecutionContext.PublisherName, PublisherName, StringComparison.OrdinalIgnoreCase);

    /// <summary>Registers the compose publisher as the pipeline step that <c>--publisher compose</c> runs.</summary>
    public static IDistributedApplicationBuilder AddComposePublishing(this IDistributedApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        if (!builder.IsComposePublishing())
        {
            return builder;
        }

        // Like --publisher manifest, which Aspire maps to its "publish-manifest" step.
        if (string.IsNullOrEmpty(builder.Configuration["Pipeline:Step"]))
        {
            builder.Configuration["Pipeline:Step"] = StepName;
        }
        builder.Pipeline.AddStep(new PipelineStep
        {
            Name = StepName,
            Description = "Writes a Docker Compose project (compose file, .env.example, Prometheus, Grafana) from the app model.",
            Action = context =>
            {
                var outputPath = context.Services.GetRequiredService<IOptions<PipelineOptions>>().Value.OutputPath
                    ?? throw new DistributedApplicationException(
                        "--publisher compose needs --output-path <dir>, the folder to write docker-compose.yaml into.");
                return WriteAsync(context.Model, context.ExecutionContext, outputPath, context.Logger, context.CancellationToken);
            },
        });
        return builder;
    }

    /// <summary>The tag of the llmstack-api and llmstack-web images: LlmStack's version (never "latest").</summary>
    public static string ImageTag { get; } =
        typeof(ComposePublishing).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
        ?? throw new InvalidOperationException("The AppHost assembly carries no informational version.");

    public static async Task WriteAsync(DistributedApplicationModel model, DistributedApplicationExecutionContext executionContext,
        string outputPath, ILogger logger, CancellationToken cancellationToken)
    {
        var builder = new ComposeFileBuilder(model, executionContext, ImageTag);
        var compose = await builder.BuildAsync(cancellationToken);
        builder.Variables.Declare(ComposeSettings.Profiles);

        var directory = Path.GetFullPath(outputPath);
        Directory.CreateDirectory(directory);
        await WriteFileAsync(ComposeFileName, ComposeFileHeader + ComposeYaml.Serialize(compose));
        await WriteFileAsync(EnvExampleFileName, builder.Variables.ToEnvExample(EnvExampleHeader));

        // Prometheus scrapes every LlmStack service - each replica of it - at the name the compose network gives it.
        var targets = model.Resources.OfType<ProjectResource>().Select(p => (p.Name, ProjectAddresses(p)));
        await WriteFileAsync(PrometheusConfigPath, PrometheusConfiguration.Write(targets, ComposeSettings.PrometheusKeyFile));
        var projects = model.Resources.OfType<ProjectResource>().ToDictionary(p => p.Name);
        await WriteFileAsync(CaddyfilePath, CaddyConfiguration.Write(ComposeSettings.Domain.Name, ComposeSettings.Domain.Default!,
            ProjectAddresses(projects["web"]), ProjectAddresses(projects["api"])));
        await WriteFileAsync(GrafanaDataSourcePath, GrafanaDashboard.DataSource($"http://{ComposeSettings.PrometheusName}:{ComposeSettings.PrometheusPort}"));
        await WriteFileAsync(GrafanaProviderPath, GrafanaDashboard.DashboardProvider(ComposeSettings.GrafanaDashboardsPath));
        await WriteFileAsync(GrafanaDashboardPath, GrafanaDashboard.Json());
        await WriteFileAsync(Path.Combine(ModelsFolder, "README.txt"),
            "GGUF files for the embedded profile: put one here and name it in .env (EMBEDDED_MODEL_FILE).\n");

        logger.LogInformation("Published the compose project to {Directory}: cp .env.example .env, then docker compose --profile cpu up -d", directory);

        Task WriteFileAsync(string relativePath, string content)
        {
            var path = Path.Combine(directory, relativePath);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            return File.WriteAllTextAsync(path, content, cancellationToken);
        }
    }

    /// <summary>The <c>host:port</c> of each replica of a project on the compose network.</summary>
    private static IReadOnlyList<string> ProjectAddresses(ProjectResource project) =>
        [.. ComposeFileBuilder.ReplicaHosts(project).Select(host => $"{host}:{ComposeFileBuilder.ProjectContainerPort}")];

    private const string ComposeFileHeader = """
        # LlmStack on one Docker host. Written by `dotnet run --project LlmStack.AppHost -- --publisher compose`
        # from the app model; regenerate rather than edit. See docs/deploy-ec2.md.
        #
        # Pick one profile (in .env as COMPOSE_PROFILES, or --profile on the command line):
        #   cpu       Ollama + a one-shot job pulling the model; the API's ollama backend    (api-cpu)
        #   gpu       vLLM on an NVIDIA GPU; the API's openai backend, same model id          (api-gpu)
        #   embedded  the API runs a GGUF from Hugging Face or ./models, or its demo model    (api-embedded)
        # web, prometheus and grafana run in every profile. The API answers from its first second, with 503 "model is
        # loading" until the model is there (check: curl http://localhost:5080/readyz). It is one service per profile
        # (what it connects to differs), each reachable as "api"; the Web therefore does not depend_on it (Compose
        # refuses a dependency on a service of an inactive profile) - the chat page shows the API's state instead.
        # Add the proxy profile (COMPOSE_PROFILES=cpu,proxy) for Caddy with HTTPS in front of both: https://<domain>/ and
        # https://<domain>/v1 (LLMSTACK_DOMAIN). The API and the Web listen on 127.0.0.1 only unless .env opens them.
        # Every container runs without Linux capabilities (but the proxy's one, to bind 80 and 443) and cannot gain any.
        #
        #   cp .env.example .env && docker compose --profile cpu up -d && docker compose ps

        """;

    private const string EnvExampleHeader = """
        LlmStack compose settings. Copy to .env (next to docker-compose.yaml) and adjust; Compose reads it itself.
        Commented lines show the default. Written by the LlmStack compose publisher.
        """;
}
