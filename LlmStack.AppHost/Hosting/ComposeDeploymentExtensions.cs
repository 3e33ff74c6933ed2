using Aspire.Hosting.ApplicationModel;
using LlmStack.AppHost.Compose;
using LlmStack.AppHost.Ollama;
using LlmStack.AppHost.Vllm;

namespace LlmStack.AppHost.Hosting;

/// <summary>
/// The deployment LlmStack publishes with <c>--publisher compose</c>: the same API, Web and Ollama resources as
/// <c>dotnet run</c>, plus what only a deployment has - vLLM for the GPU profile, Prometheus and Grafana - and the
/// compose facts (profiles, health checks, restart policies, limits, published ports).
/// </summary>
internal static class ComposeDeploymentExtensions
{
    /// <summary>The GPU profile's model: Qwen2.5 7B Instruct, served by vLLM under the id clients already send.</summary>
    public const string VllmModel = "Qwen/Qwen2.5-7B-Instruct";

    /// <summary>
    /// The embedded profile's API: the GGUF on Hugging Face named by EMBEDDED_MODEL_SOURCE (downloaded, verified and
    /// cached by the API in the model-cache volume), or the one named by EMBEDDED_MODEL_FILE in /models, or, when
    /// neither is named, no model configuration at all - which is how the API knows to serve its built-in demo model.
    /// Compose cannot leave variables out conditionally, so a few lines of shell in front of the API do it ($$ is
    /// Compose's escape for the shell's $). The id clients send defaults to the source without hf:// and its
    /// revision, as the AppHost's Embedded:Model does, or to the file name without .gguf.
    /// </summary>
    private const string EmbeddedModelScript = """
        if [ -n "$$LLMSTACK_EMBEDDED_MODEL_SOURCE" ] && [ -n "$$LLMSTACK_EMBEDDED_MODEL_FILE" ]; then
          echo "EMBEDDED_MODEL_SOURCE and EMBEDDED_MODEL_FILE are both set in .env; set one: a source to download, or a file in ./models." >&2
          exit 2
        fi
        if [ -n "$$LLMSTACK_EMBEDDED_MODEL_SOURCE" ]; then
          id="$${LLMSTACK_EMBEDDED_MODEL_SOURCE#hf://}"
          export LlmStack__Models__0__Backend=embedded
          export LlmStack__Models__0__Source="$$LLMSTACK_EMBEDDED_MODEL_SOURCE"
          export LlmStack__Models__0__Id="$${LLMSTACK_EMBEDDED_MODEL_ID:-$${id%%@*}}"
        elif [ -n "$$LLMSTACK_EMBEDDED_MODEL_FILE" ]; then
          export LlmStack__Models__0__Backend=embedded
          export LlmStack__Models__0__Path="/models/$$LLMSTACK_EMBEDDED_MODEL_FILE"
          export LlmStack__Models__0__Id="$${LLMSTACK_EMBEDDED_MODEL_ID:-$${LLMSTACK_EMBEDDED_MODEL_FILE%.gguf}}"
        fi
        exec /app/LlmStack.Api
        """;

    /// <summary>Where the API image's user keeps downloaded models (the API's default cache folder there); the model-cache volume.</summary>
    public const string ModelCachePath = "/home/app/.cache/llmstack/models";

    public static void AddComposeDeployment(this IDistributedApplicationBuilder builder,
        IResourceBuilder<ProjectResource> api, IResourceBuilder<ProjectResource> web, IResourceBuilder<OllamaModelResource> ollamaModel,
        IResourceBuilder<ParameterResource> apiKey, IResourceBuilder<IResourceWithConnectionString>? replicaRedis)
    {
        if (replicaRedis?.Resource is RedisResource redis)
        {
            builder.CreateResourceBuilder(redis).PublishAsComposeService(service =>
            {
                // Every profile: the API replicas of each share it.
                service.Healthcheck = ComposeHealthcheck.Command(
                    ["CMD-SHELL", "redis-cli -a \"$$REDIS_PASSWORD\" --no-auth-warning ping | grep -q PONG"], startPeriod: "10s");
                service.Limits = new ComposeResourceLimits { Memory = "512m" };
                // The image's redis user (999) from the start, so its entrypoint needs no capability to switch to it; it
                // writes only its data volume.
                service.Hardening = new ComposeHardening { User = RedisUser, ReadOnlyRootFilesystem = true, Tmpfs = { "/tmp" } };
            });
        }

        var ollama = (OllamaResource)ollamaModel.Resource.Parent;
        builder.CreateResourceBuilder(ollama).PublishAsComposeService(service =>
        {
            service.Profiles.Add(ComposeSettings.CpuProfile);
            // The image has no curl; its CLI asks the server it runs next to.
            service.Healthcheck = ComposeHealthcheck.Command(["CMD", "ollama", "list"], startPeriod: "30s");
            service.Customizations.Add((compose, variables) => compose.Deploy = MemoryLimit(variables.Use(ComposeSettings.OllamaMemory)));
            // Its image's convention is root with the models in /root/.ollama (the volume); root without capabilities
            // still owns that folder. The root filesystem stays writable: the GPU build caches CUDA kernels in /root/.cache.
            service.Hardening = ComposeHardening.Image();
        });

        var vllm = builder.AddVllm("vllm", VllmModel)
            .PublishAsComposeService(service =>
            {
                service.Profiles.Add(ComposeSettings.GpuProfile);
                // Downloading ~15 GB of weights and loading them takes minutes on first start.
                service.Healthcheck = ComposeHealthcheck.Command(
                    ["CMD", "python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=5)"],
                    interval: "30s", startPeriod: "20m");
                // Root, as its image runs, with no capability: the GPU is a device the NVIDIA runtime hands in. A writable
                // root: vLLM and PyTorch write compile caches under /root/.cache and /root/.triton at run time.
                service.Hardening = ComposeHardening.Image();
                service.Customizations.Add((compose, variables) =>
                {
                    compose.Environment["HF_TOKEN"] = variables.Use(ComposeSettings.HuggingFaceToken);
                    // vLLM's processes share tensors through /dev/shm; Docker's default 64 MB is too small. A size of its
                    // own rather than the host's IPC namespace (ipc: host), which would share every host process's memory segments.
                    compose.ShmSize = variables.Use(ComposeSettings.VllmSharedMemory);
                    compose.Deploy ??= new ComposeDeploy();
                    compose.Deploy.Resources.Reservations = new ComposeReservations
                    {
                        Devices = { new ComposeDeviceRequest { Driver = "nvidia", Count = "all", Capabilities = ["gpu"] } },
                    };
                });
            });

        api.PublishAsComposeService(service =>
            {
                service.PublishedPorts.Add(new("http", ComposeSettings.ApiPort, 5080, ComposeSettings.BindAddress));
                service.Customizations.Add((compose, _) => BehindTheProxy(compose));
            })
            .WithComposeProfileVariant(ComposeSettings.CpuProfile, variant =>
            {
                foreach (var (key, value) in LlmStackResourceExtensions.OllamaModelSettings(ollamaModel.Resource))
                {
                    variant.Environment[key] = value;
                }
                // Like under dotnet run, the API does not wait for the download: it answers at once, with 503
                // "model is loading" until the pull job has brought the model. It needs the server it talks to.
                variant.Waits.Add(new WaitAnnotation(ollama, WaitType.WaitUntilHealthy));
                variant.Limits = GatewayMemory;
            })
            .WithComposeProfileVariant(ComposeSettings.GpuProfile, variant =>
            {
                foreach (var (key, value) in LlmStackResourceExtensions.ModelSettings(
                    ollamaModel.Resource.ModelName, "openai", ReferenceExpression.Create($"{vllm.Resource.PrimaryEndpoint}/v1"), upstreamModel: VllmModel))
                {
                    variant.Environment[key] = value;
                }
                // vLLM turns healthy only once its weights are downloaded and loaded (minutes); meanwhile the API
                // already answers, its /readyz saying the model is not ready.
                variant.Waits.Add(new WaitAnnotation(vllm.Resource, WaitType.WaitUntilStarted));
                variant.Limits = GatewayMemory;
            })
            .WithComposeProfileVariant(ComposeSettings.EmbeddedProfile, variant =>
            {
                variant.Environment["LLMSTACK_EMBEDDED_MODEL_SOURCE"] = ComposeSettings.EmbeddedModelSource;
                variant.Environment["LLMSTACK_EMBEDDED_MODEL_FILE"] = ComposeSettings.EmbeddedModelFile;
                variant.Environment["LLMSTACK_EMBEDDED_MODEL_ID"] = ComposeSettings.EmbeddedModelId;
                variant.Entrypoint.AddRange(["/bin/sh", "-c", EmbeddedModelScript]);
                variant.Customizations.Add((compose, variables) =>
                {
                    compose.Environment["HF_ENDPOINT"] = variables.Use(ComposeSettings.HuggingFaceEndpoint);
                    compose.Environment["HF_TOKEN"] = variables.Use(ComposeSettings.HuggingFaceToken);
                    compose.Volumes.Add($"{variables.Use(ComposeSettings.ModelsDirectory)}:/models:ro");
                    // A downloaded model survives the container: the next start finds it verified in the cache.
                    compose.Volumes.Add($"model-cache:{ModelCachePath}");
                    compose.Deploy = MemoryLimit(variables.Use(ComposeSettings.EmbeddedApiMemory));
                });
            });

        web.PublishAsComposeService(service =>
        {
            service.PublishedPorts.Add(new("http", ComposeSettings.WebPort, 5090, ComposeSettings.BindAddress));
            service.Limits = new ComposeResourceLimits { Memory = "512m" };
            // The accounts and ASP.NET Core's Data Protection keys (sessions, antiforgery, the encryption of each
            // person's stored conversations) survive a restart of the container.
            service.Customizations.Add((compose, _) =>
            {
                compose.Environment[WebSignInExtensions.DataDirectoryVariable] = WebDataPath;
                compose.Volumes.Add($"web-data:{WebDataPath}");
                BehindTheProxy(compose);
            });
        });

        // Opt-in: HTTPS in front of the Web and the API, which then stay on 127.0.0.1 (the default bind).
        builder.AddContainer(ComposeSettings.ProxyName, ProxyImages.Caddy, ProxyImages.CaddyTag)
            .WithHttpEndpoint(targetPort: 80, name: "http")
            .WithHttpsEndpoint(targetPort: 443, name: "https")
            .WithVolume("caddy-data", "/data")
            .WithVolume("caddy-config", "/config")
            .WaitFor(web)
            .PublishAsComposeService(service =>
            {
                service.Profiles.Add(ComposeSettings.ProxyProfile);
                // Caddy's admin endpoint answers on the container's loopback only.
                service.Healthcheck = ComposeHealthcheck.Command(["CMD", "wget", "-q", "-O", "/dev/null", "http://localhost:2019/config/"]);
                service.PublishedPorts.Add(new("http", ComposeSettings.ProxyHttpPort, 80, ComposeSettings.ProxyBindAddress));
                service.PublishedPorts.Add(new("https", ComposeSettings.ProxyHttpsPort, 443, ComposeSettings.ProxyBindAddress));
                service.Limits = new ComposeResourceLimits { Memory = "256m" };
                // Root as in its image, holding one capability: binding ports 80 and 443. Certificates live in /data.
                service.Hardening = new ComposeHardening { ReadOnlyRootFilesystem = true, Tmpfs = { "/tmp" }, Capabilities = { "NET_BIND_SERVICE" } };
                service.Customizations.Add((compose, variables) =>
                {
                    compose.Environment[ComposeSettings.Domain.Name] = variables.Use(ComposeSettings.Domain);
                    compose.Volumes.Add($"./{ComposePublishing.CaddyfilePath}:{ComposeSettings.CaddyfilePath}:ro");
                });
            });

        builder.AddContainer(ComposeSettings.PrometheusName, MonitoringImages.Prometheus, MonitoringImages.PrometheusTag)
            .WithHttpEndpoint(targetPort: ComposeSettings.PrometheusPort, name: "http")
            .WithVolume("prometheus-data", "/prometheus")
            .WithArgs("--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus", "--storage.tsdb.retention.time=30d")
            // The services' /metrics need the key (ProtectMetrics); Prometheus reads it from a file, written at start.
            .WithEnvironment(PrometheusKeyVariable, apiKey)
            .PublishAsComposeService(service =>
            {
                service.Healthcheck = ComposeHealthcheck.Command(["CMD", "wget", "-q", "-O", "/dev/null", $"http://127.0.0.1:{ComposeSettings.PrometheusPort}/-/ready"]);
                service.PublishedPorts.Add(new("http", ComposeSettings.PrometheusHostPort, ComposeSettings.PrometheusPort, ComposeSettings.MonitoringBindAddress));
                service.Limits = new ComposeResourceLimits { Memory = "1g" };
                // nobody, as its image runs; it writes only its volume (and the key file in memory).
                service.Hardening = new ComposeHardening { User = "65534:65534", ReadOnlyRootFilesystem = true, Tmpfs = { "/tmp" } };
                service.Customizations.Add((compose, _) =>
                {
                    compose.Volumes.Add($"./{ComposePublishing.PrometheusConfigPath}:/etc/prometheus/prometheus.yml:ro");
                    compose.Entrypoint.AddRange(["/bin/sh", "-c", PrometheusStartScript, "prometheus"]);
                });
            });

        var prometheus = builder.Resources.OfType<ContainerResource>().Single(r => r.Name == ComposeSettings.PrometheusName);
        builder.AddContainer(ComposeSettings.GrafanaName, MonitoringImages.Grafana, MonitoringImages.GrafanaTag)
            .WithHttpEndpoint(targetPort: ComposeSettings.GrafanaPort, name: "http")
            .WithVolume("grafana-data", "/var/lib/grafana")
            .WaitFor(builder.CreateResourceBuilder(prometheus))
            .PublishAsComposeService(service =>
            {
                service.Healthcheck = ComposeHealthcheck.Command(["CMD", "curl", "-fsS", $"http://127.0.0.1:{ComposeSettings.GrafanaPort}/api/health"]);
                service.PublishedPorts.Add(new("http", ComposeSettings.GrafanaHostPort, ComposeSettings.GrafanaPort, ComposeSettings.MonitoringBindAddress));
                service.Limits = new ComposeResourceLimits { Memory = "512m" };
                // grafana (uid 472), as its image runs; everything it keeps is in its volume, its log goes to the console.
                service.Hardening = new ComposeHardening { User = "472", ReadOnlyRootFilesystem = true, Tmpfs = { "/tmp" } };
                service.Customizations.Add((compose, variables) =>
                {
                    compose.Environment["GF_SECURITY_ADMIN_PASSWORD"] = variables.Use(ComposeSettings.GrafanaAdminPassword);
                    compose.Environment["GF_USERS_ALLOW_SIGN_UP"] = "false";
                    compose.Environment["GF_LOG_MODE"] = "console";
                    compose.Environment["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"] = $"{ComposeSettings.GrafanaDashboardsPath}/llmstack.json";
                    compose.Volumes.Add("./grafana/provisioning:/etc/grafana/provisioning:ro");
                    compose.Volumes.Add($"./grafana/dashboards:{ComposeSettings.GrafanaDashboardsPath}:ro");
                });
            });
    }

    /// <summary>The user of the official Redis image (and of the test stand-in).</summary>
    public const string RedisUser = "999:999";

    /// <summary>The Web's data directory in its container: a folder of the image's user, where the web-data volume goes.</summary>
    public const string WebDataPath = "/home/app/data";

    /// <summary>The API key in Prometheus's environment, which its start script writes to <see cref="ComposeSettings.PrometheusKeyFile"/>.</summary>
    private const string PrometheusKeyVariable = "LLMSTACK_API_KEY";

    /// <summary>
    /// Prometheus reads bearer credentials only from its configuration or a file, and .env is where the key is; so the
    /// container writes it to a file only its user can read, in memory, then becomes Prometheus ($$: Compose's escape).
    /// </summary>
    private const string PrometheusStartScript =
        $"umask 077 && printf '%s' \"$${PrometheusKeyVariable}\" > {ComposeSettings.PrometheusKeyFile} && exec /bin/prometheus \"$$@\"";

    /// <summary>
    /// Both services in compose: /metrics asks for the stack's key (Prometheus has it), and forwarded headers count
    /// only from the proxy service - from anyone else, including a caller on the host's loopback, they are ignored.
    /// </summary>
    private static void BehindTheProxy(ComposeService compose)
    {
        compose.Environment["LlmStack__Auth__ProtectMetrics"] = "true";
        compose.Environment["LlmStack__TrustedProxy"] = ComposeSettings.ProxyName;
        // Aspire sets this for a published project, and ASP.NET Core then believes X-Forwarded-* from every caller
        // (it clears KnownProxies and KnownNetworks): anyone reaching the port could claim any address and https.
        compose.Environment[ForwardedHeadersEnabledVariable] = "false";
    }

    private const string ForwardedHeadersEnabledVariable = "ASPNETCORE_FORWARDEDHEADERS_ENABLED";

    /// <summary>The API in front of another model server is a gateway: a few hundred MB is plenty.</summary>
    private static ComposeResourceLimits GatewayMemory => new() { Memory = "1g" };

    private static ComposeDeploy MemoryLimit(string memory)
    {
        var deploy = new ComposeDeploy();
        deploy.Resources.Limits = new ComposeResourceLimits { Memory = memory };
        return deploy;
    }
}

/// <summary>The pinned proxy image (Docker Hub's official one).</summary>
internal static class ProxyImages
{
    public const string Caddy = "caddy";
    public const string CaddyTag = "2.10.2";
}

/// <summary>The pinned monitoring images (Docker Hub's official ones).</summary>
internal static class MonitoringImages
{
    public const string Prometheus = "prom/prometheus";
    public const string PrometheusTag = "v3.5.0";
    public const string Grafana = "grafana/grafana";
    public const string GrafanaTag = "12.2.0";
}
