extern alias apphost;

using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using apphost::LlmStack.AppHost.Compose;
using apphost::LlmStack.AppHost.Monitoring;
using LlmStack.Tests.Fixtures;
using YamlDotNet.Serialization;
using static LlmStack.Tests.Fixtures.PublishedCompose;

namespace LlmStack.Tests.AppModel;

/// <summary>What <c>--publisher compose</c> writes, read back from the files: no Docker engine needed.</summary>
public sealed partial class ComposePublisherTests(PublishedCompose compose) : IClassFixture<PublishedCompose>
{
    [Fact]
    public void Every_service_of_the_deployment_is_there_with_its_profiles()
    {
        var profiles = compose.Services.ToDictionary(s => (string)s.Key, s => string.Join(',', Strings((Dictionary<object, object>)s.Value, "profiles")));

        Assert.Equal(new Dictionary<string, string>
        {
            // One API per profile: what it connects to differs.
            ["api-cpu"] = "cpu",
            ["api-gpu"] = "gpu",
            ["api-embedded"] = "embedded",
            ["ollama"] = "cpu",
            ["ollama-pull"] = "cpu",
            ["vllm"] = "gpu",
            // Every profile.
            ["web"] = "",
            ["prometheus"] = "",
            ["grafana"] = "",
            // Opt-in, beside one of the three.
            ["proxy"] = "proxy",
        }, profiles);
    }

    [Fact]
    public void Every_image_is_pinned_and_llmstack_images_carry_the_version()
    {
        var images = compose.Services.ToDictionary(s => (string)s.Key, s => (string)((Dictionary<object, object>)s.Value)["image"]);

        Assert.All(images.Values, image => Assert.Matches(@"^[a-z0-9./-]+:[A-Za-z0-9._-]+$", image));
        Assert.DoesNotContain(images.Values, image => image.EndsWith(":latest", StringComparison.Ordinal));
        Assert.Equal($"llmstack-api:{PublishedCompose.Version}", images["api-cpu"]);
        Assert.Equal($"llmstack-api:{PublishedCompose.Version}", images["api-embedded"]);
        Assert.Equal($"llmstack-web:{PublishedCompose.Version}", images["web"]);
        Assert.StartsWith("ollama/ollama:", images["ollama"]);
        Assert.Equal(images["ollama"], images["ollama-pull"]);
        Assert.StartsWith("vllm/vllm-openai:v", images["vllm"]);
        Assert.StartsWith("caddy:2.", images["proxy"]);
    }

    [Fact]
    public void The_cpu_api_uses_the_ollama_backend_and_a_job_pulls_the_model()
    {
        var api = compose.Service("api-cpu");
        var env = Environment(api);
        Assert.Equal("qwen2.5:7b", env["LlmStack__Models__0__Id"]);
        Assert.Equal("ollama", env["LlmStack__Models__0__Backend"]);
        Assert.Equal("http://ollama:11434", env["LlmStack__Models__0__Endpoint"]);
        // As under dotnet run, the API does not wait for the download (it answers 503 "model is loading" meanwhile).
        Assert.Equal(["ollama"], Map(api, "depends_on").Keys.Cast<string>());
        Assert.Equal("service_healthy", (string)Map(Map(api, "depends_on"), "ollama")["condition"]);

        var pull = compose.Service("ollama-pull");
        Assert.Equal(["pull", "qwen2.5:7b"], Strings(pull, "command"));
        Assert.Equal("ollama:11434", Environment(pull)["OLLAMA_HOST"]);
        Assert.Equal("service_healthy", (string)Map(Map(pull, "depends_on"), "ollama")["condition"]);
        Assert.Equal("no", (string)pull["restart"]);
        // Quoted: docker-compose 1.29 reads YAML 1.1, where a bare no is the boolean false.
        Assert.Contains("restart: \"no\"", compose.ComposeText);

        Assert.Contains("llmstack-ollama-models:/root/.ollama", Strings(compose.Service("ollama"), "volumes"));
    }

    [Fact]
    public void The_gpu_api_uses_vllm_under_the_same_model_id_and_vllm_reserves_the_gpu()
    {
        var api = compose.Service("api-gpu");
        var env = Environment(api);
        Assert.Equal("qwen2.5:7b", env["LlmStack__Models__0__Id"]);
        Assert.Equal("openai", env["LlmStack__Models__0__Backend"]);
        Assert.Equal("http://vllm:8000/v1", env["LlmStack__Models__0__Endpoint"]);
        Assert.Equal("Qwen/Qwen2.5-7B-Instruct", env["LlmStack__Models__0__UpstreamModel"]);
        Assert.Equal(["vllm"], Map(api, "depends_on").Keys.Cast<string>());
        Assert.Equal("service_started", (string)Map(Map(api, "depends_on"), "vllm")["condition"]);

        var vllm = compose.Service("vllm");
        var command = Strings(vllm, "command");
        Assert.Equal("Qwen/Qwen2.5-7B-Instruct", command[command.IndexOf("--model") + 1]);
        Assert.Equal("hermes", command[command.IndexOf("--tool-call-parser") + 1]);
        Assert.Contains("--enable-auto-tool-choice", command);
        Assert.Contains("huggingface-cache:/root/.cache/huggingface", Strings(vllm, "volumes"));
        var device = (Dictionary<object, object>)((List<object>)Map(Map(Map(vllm, "deploy"), "resources"), "reservations")["devices"]).Single();
        Assert.Equal("nvidia", (string)device["driver"]);
        Assert.Equal("all", (string)device["count"]);
        Assert.Equal(["gpu"], Strings(device, "capabilities"));
    }

    [Fact]
    public void The_embedded_api_serves_a_hub_source_or_a_mounted_gguf_or_else_the_demo_model()
    {
        var api = compose.Service("api-embedded");
        Assert.Contains("${LLMSTACK_MODELS_DIR:-./models}:/models:ro", Strings(api, "volumes"));
        // Downloads are kept in a volume, where the API image's user keeps its model cache.
        Assert.Contains("model-cache:/home/app/.cache/llmstack/models", Strings(api, "volumes"));
        Assert.True(compose.Volumes.ContainsKey("model-cache"));
        var env = Environment(api);
        Assert.Equal("${EMBEDDED_MODEL_SOURCE:-}", env["LLMSTACK_EMBEDDED_MODEL_SOURCE"]);
        Assert.Equal("${HF_ENDPOINT:-}", env["HF_ENDPOINT"]);
        Assert.Equal("${HF_TOKEN:-}", env["HF_TOKEN"]);
        Assert.Equal("${EMBEDDED_MODEL_FILE:-}", env["LLMSTACK_EMBEDDED_MODEL_FILE"]);
        // No model settings unless a file is named: that is how the API knows to serve its demo model.
        Assert.DoesNotContain(env.Keys, key => key.StartsWith("LlmStack__Models", StringComparison.Ordinal));
        Assert.False(api.ContainsKey("depends_on"));
    }

    [Fact]
    public void Every_api_variant_answers_as_api_and_the_web_calls_it_there()
    {
        foreach (var name in new[] { "api-cpu", "api-gpu", "api-embedded" })
        {
            var api = compose.Service(name);
            Assert.Equal(["api"], Strings(Map(Map(api, "networks"), "default"), "aliases"));
            Assert.Equal(["${LLMSTACK_BIND_ADDRESS:-127.0.0.1}:${LLMSTACK_API_PORT:-5080}:8080"], Strings(api, "ports"));
            Assert.Equal(["CMD", "llmstack-probe", "/healthz"], Strings(Map(api, "healthcheck"), "test"));
        }

        var web = compose.Service("web");
        Assert.Equal("http://api:8080", Environment(web)["services__api__http__0"]);
        // The API key is the app model's parameter: one .env value, accepted by every API variant and sent by the Web.
        const string key = "${LLMSTACK_API_KEY:?set LLMSTACK_API_KEY in .env (see .env.example)}";
        Assert.Equal(key, Environment(web)["LlmStack__ApiKey"]);
        Assert.All(new[] { "api-cpu", "api-gpu", "api-embedded" }, name => Assert.Contains(key, Environment(compose.Service(name)).Values));
        // The chat page's administrator: another .env secret, the Web's alone; its accounts and keys on a volume.
        Assert.Equal("${LLMSTACK_WEB_ADMIN_PASSWORD:?set LLMSTACK_WEB_ADMIN_PASSWORD in .env (see .env.example)}", Environment(web)["LlmStack__Accounts__AdminPassword"]);
        Assert.Equal("/home/app/data", Environment(web)["LlmStack__DataDirectory"]);
        Assert.Contains("web-data:/home/app/data", Strings(web, "volumes"));
        Assert.DoesNotContain(Environment(web).Values, value => value.StartsWith("https://", StringComparison.Ordinal));
        Assert.Equal(["${LLMSTACK_BIND_ADDRESS:-127.0.0.1}:${LLMSTACK_WEB_PORT:-5090}:8080"], Strings(web, "ports"));
    }

    [Fact]
    public void Long_running_services_have_health_checks_restart_policies_and_memory_limits()
    {
        foreach (var name in compose.Services.Keys.Cast<string>().Where(n => n != "ollama-pull"))
        {
            var service = compose.Service(name);
            Assert.True(service.ContainsKey("healthcheck"), $"{name} has no health check");
            Assert.Equal("unless-stopped", (string)service["restart"]);
            if (name != "vllm")
            {
                Assert.False(string.IsNullOrEmpty((string)Map(Map(Map(service, "deploy"), "resources"), "limits")["memory"]), $"{name} has no memory limit");
            }
        }
        Assert.Equal("service_healthy", (string)Map(Map(compose.Service("grafana"), "depends_on"), "prometheus")["condition"]);
    }

    [Fact]
    public void Data_lives_in_named_volumes()
    {
        Assert.Equal(["caddy-config", "caddy-data", "grafana-data", "huggingface-cache", "llmstack-ollama-models", "model-cache", "prometheus-data", "web-data"],
            compose.Volumes.Keys.Cast<string>().Order());
        Assert.Contains("caddy-data:/data", Strings(compose.Service("proxy"), "volumes"));
        Assert.Contains("prometheus-data:/prometheus", Strings(compose.Service("prometheus"), "volumes"));
        Assert.Contains("grafana-data:/var/lib/grafana", Strings(compose.Service("grafana"), "volumes"));
    }

    [Fact]
    public void Env_example_lists_and_explains_every_variable_the_compose_file_uses()
    {
        var used = VariableReference().Matches(compose.ComposeText).Select(m => m.Groups[1].Value).ToHashSet();
        Assert.Contains("LLMSTACK_API_PORT", used);

        foreach (var variable in used.Append("COMPOSE_PROFILES"))
        {
            var line = compose.EnvExample.Split('\n').Select((text, index) => (text, index))
                .SingleOrDefault(l => Regex.IsMatch(l.text, $"^#? ?{variable}="));
            Assert.True(line.text is not null, $"{variable} is not in .env.example");
            Assert.StartsWith("# ", compose.EnvExample.Split('\n')[line.index - 1]); // its description
        }
        Assert.Contains("\nCOMPOSE_PROFILES=cpu\n", compose.EnvExample);
        Assert.Contains("\nGRAFANA_ADMIN_PASSWORD=\n", compose.EnvExample);
        // The stack's API key: required in .env, given to the API (accepted) and the Web (sent).
        Assert.Contains("${LLMSTACK_API_KEY:?", compose.ComposeText);
        Assert.Matches("(?m)^#? ?LLMSTACK_API_KEY=", compose.EnvExample);
        Assert.Contains("${GRAFANA_ADMIN_PASSWORD:?", compose.ComposeText);
    }

    [Fact]
    public void Prometheus_scrapes_the_api_and_the_web_with_the_key()
    {
        var config = new DeserializerBuilder().Build().Deserialize<Dictionary<object, object>>(
            File.ReadAllText(Path.Combine(compose.Directory, "prometheus/prometheus.yml")));
        var scrapes = ((List<object>)config["scrape_configs"]).Cast<Dictionary<object, object>>().ToList();
        var jobs = scrapes.ToDictionary(j => (string)j["job_name"], j => (string)((List<object>)((Dictionary<object, object>)((List<object>)j["static_configs"])[0])["targets"])[0]);

        Assert.Equal(new Dictionary<string, string> { ["api"] = "api:8080", ["web"] = "web:8080" }, jobs);
        var prometheus = compose.Service("prometheus");
        Assert.Contains("./prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro", Strings(prometheus, "volumes"));
        // Both /metrics ask for the key: Prometheus sends it from a file its start writes from .env's LLMSTACK_API_KEY.
        Assert.All(scrapes, job =>
        {
            Assert.Equal("Bearer", (string)Map(job, "authorization")["type"]);
            Assert.Equal("/tmp/llmstack-api-key", (string)Map(job, "authorization")["credentials_file"]);
        });
        Assert.Equal("${LLMSTACK_API_KEY:?set LLMSTACK_API_KEY in .env (see .env.example)}", Environment(prometheus)["LLMSTACK_API_KEY"]);
        var start = Strings(prometheus, "entrypoint");
        Assert.Equal(["/bin/sh", "-c"], start[..2]);
        Assert.Contains("printf '%s' \"$$LLMSTACK_API_KEY\" > /tmp/llmstack-api-key", start[2], StringComparison.Ordinal);
        Assert.EndsWith("exec /bin/prometheus \"$$@\"", start[2], StringComparison.Ordinal);
        Assert.Contains("/tmp", Strings(prometheus, "tmpfs"));
        Assert.All(new[] { "api-cpu", "api-gpu", "api-embedded", "web" }, name =>
            Assert.Equal("true", Environment(compose.Service(name))["LlmStack__Auth__ProtectMetrics"]));
    }

    [Fact]
    public void Forwarded_headers_count_only_from_the_proxy_service()
    {
        foreach (var name in new[] { "api-cpu", "api-gpu", "api-embedded", "web" })
        {
            var env = Environment(compose.Service(name));
            Assert.Equal("proxy", env["LlmStack__TrustedProxy"]);
            // Aspire's default for a published project believes X-Forwarded-* from anyone; compose turns it off.
            Assert.Equal("false", env["ASPNETCORE_FORWARDEDHEADERS_ENABLED"]);
        }
    }

    [Fact]
    public void Every_container_runs_without_capabilities_and_cannot_gain_privileges()
    {
        foreach (var name in compose.Services.Keys.Cast<string>())
        {
            var service = compose.Service(name);
            Assert.Equal(["ALL"], Strings(service, "cap_drop"));
            Assert.Equal(["no-new-privileges:true"], Strings(service, "security_opt"));
            // Only the proxy takes one back: binding ports 80 and 443.
            Assert.Equal(name == "proxy" ? ["NET_BIND_SERVICE"] : Array.Empty<string>(), Strings(service, "cap_add"));
        }

        var users = compose.Services.ToDictionary(s => (string)s.Key, s => ((Dictionary<object, object>)s.Value).TryGetValue("user", out var user) ? (string)user : "the image's");
        Assert.Equal(new Dictionary<string, string>
        {
            ["api-cpu"] = "1654:1654",
            ["api-gpu"] = "1654:1654",
            ["api-embedded"] = "1654:1654",
            ["web"] = "1654:1654",
            ["prometheus"] = "65534:65534",
            ["grafana"] = "472",
            // Their images' convention is root (models and caches under /root); without capabilities, root owns only its own.
            ["ollama"] = "the image's",
            ["ollama-pull"] = "the image's",
            ["vllm"] = "the image's",
            ["proxy"] = "the image's",
        }, users);

        var readOnly = compose.Services.Where(s => ((Dictionary<object, object>)s.Value).TryGetValue("read_only", out var value) && (string)value == "true")
            .Select(s => (string)s.Key).Order();
        // Ollama and vLLM write caches under /root at run time; everything else writes only to its volumes and /tmp.
        Assert.Equal(["api-cpu", "api-embedded", "api-gpu", "grafana", "prometheus", "proxy", "web"], readOnly);
        Assert.All(readOnly, name => Assert.Equal(["/tmp"], Strings(compose.Service(name), "tmpfs")));
    }

    [Fact]
    public void Vllm_gets_shared_memory_of_its_own_not_the_hosts_ipc()
    {
        var vllm = compose.Service("vllm");

        Assert.Equal("${VLLM_SHM_SIZE:-8g}", (string)vllm["shm_size"]);
        Assert.False(vllm.ContainsKey("ipc"));
        Assert.DoesNotContain("ipc:", compose.ComposeText, StringComparison.Ordinal);
    }

    [Fact]
    public void The_proxy_serves_the_web_and_the_api_over_https_on_the_domain_from_dot_env()
    {
        var proxy = compose.Service("proxy");
        Assert.Equal(["${PROXY_BIND_ADDRESS:-0.0.0.0}:${PROXY_HTTP_PORT:-80}:80", "${PROXY_BIND_ADDRESS:-0.0.0.0}:${PROXY_HTTPS_PORT:-443}:443"], Strings(proxy, "ports"));
        Assert.Equal("${LLMSTACK_DOMAIN:-localhost}", Environment(proxy)["LLMSTACK_DOMAIN"]);
        Assert.Contains("./caddy/Caddyfile:/etc/caddy/Caddyfile:ro", Strings(proxy, "volumes"));
        Assert.Equal("service_healthy", (string)Map(Map(proxy, "depends_on"), "web")["condition"]);

        var caddyfile = File.ReadAllText(Path.Combine(compose.Directory, "caddy/Caddyfile"));
        Assert.Contains("\n{$LLMSTACK_DOMAIN:localhost} {\n", caddyfile, StringComparison.Ordinal);
        Assert.Matches(@"handle /v1/\* \{\s+reverse_proxy api:8080\s+\}", caddyfile);
        Assert.Matches(@"handle \{\s+reverse_proxy web:8080\s+\}", caddyfile);
        Assert.Matches(@"handle /metrics \{\s+respond 404\s+\}", caddyfile);
        Assert.Matches("(?m)^# LLMSTACK_DOMAIN=localhost$", compose.EnvExample);
    }

    [Fact]
    public void Grafana_is_provisioned_with_prometheus_and_the_llmstack_dashboard()
    {
        var grafana = compose.Service("grafana");
        Assert.Contains("./grafana/provisioning:/etc/grafana/provisioning:ro", Strings(grafana, "volumes"));
        Assert.Contains("./grafana/dashboards:/var/lib/grafana/dashboards:ro", Strings(grafana, "volumes"));

        var yaml = new DeserializerBuilder().Build();
        var dataSource = (Dictionary<object, object>)((List<object>)yaml.Deserialize<Dictionary<object, object>>(
            File.ReadAllText(Path.Combine(compose.Directory, "grafana/provisioning/datasources/prometheus.yml")))["datasources"]).Single();
        Assert.Equal("http://prometheus:9090", (string)dataSource["url"]);
        var provider = (Dictionary<object, object>)((List<object>)yaml.Deserialize<Dictionary<object, object>>(
            File.ReadAllText(Path.Combine(compose.Directory, "grafana/provisioning/dashboards/llmstack.yml")))["providers"]).Single();
        Assert.Equal("/var/lib/grafana/dashboards", (string)Map(provider, "options")["path"]);

        var dashboard = JsonNode.Parse(File.ReadAllText(Path.Combine(compose.Directory, "grafana/dashboards/llmstack.json")))!;
        var panels = dashboard["panels"]!.AsArray();
        Assert.All(panels, panel => Assert.Equal((string)dataSource["uid"], (string?)panel!["datasource"]!["uid"]));
        var titles = panels.Select(p => (string)p!["title"]!).ToList();
        Assert.Contains(titles, t => t.StartsWith("Time to first token", StringComparison.Ordinal));
        Assert.Contains("Output tokens per second", titles);
        Assert.Contains("Time per output token (p50, p95)", titles);
        Assert.Contains("Requests in flight and queued", titles);
        Assert.Contains("Errors by type", titles);

        var ttft = panels.Single(p => ((string)p!["title"]!).StartsWith("Time to first token", StringComparison.Ordinal))!;
        Assert.Equal(0.3, (double)ttft["fieldConfig"]!["defaults"]!["thresholds"]!["steps"]![1]!["value"]!);
        var expressions = ttft["targets"]!.AsArray().Select(t => (string)t!["expr"]!).ToList();
        Assert.Contains(expressions, e => e.StartsWith("histogram_quantile(0.50,", StringComparison.Ordinal));
        Assert.Contains(expressions, e => e.StartsWith("histogram_quantile(0.95,", StringComparison.Ordinal));
        // Per model: every query keeps the model label and honours the dashboard's model variable.
        Assert.All(panels.SelectMany(p => p!["targets"]!.AsArray()), target =>
        {
            Assert.Contains("gen_ai_request_model", (string)target!["expr"]!);
            Assert.Contains("$model", (string)target["expr"]!);
        });
    }

    [Fact]
    public async Task A_resource_the_publisher_cannot_express_stops_the_publish_naming_it()
    {
        var builder = DistributedApplication.CreateBuilder(["--publisher", "compose", "--output-path", compose.Directory]);
        builder.AddResource(new OddResource("odd"));

        var error = await Assert.ThrowsAsync<DistributedApplicationException>(() =>
            new ComposeFileBuilder(new DistributedApplicationModel(builder.Resources), builder.ExecutionContext, "1.0.0")
                .BuildAsync(TestContext.Current.CancellationToken));

        Assert.Contains("cannot express the resource 'odd' (OddResource)", error.Message);
    }

    [Fact]
    public async Task A_parameter_of_the_app_model_becomes_a_required_env_variable()
    {
        // How a secret such as an API key reaches the deployment: one AddParameter, passed through .env.
        var builder = DistributedApplication.CreateBuilder(["--publisher", "compose", "--output-path", compose.Directory]);
        var key = builder.AddParameter("llmstack-api-key", secret: true).WithDescription("The key the Web sends to the API.");
        builder.AddContainer("proxy", "nginx", "1.27").WithEnvironment("API_KEY", key);

        var publisher = new ComposeFileBuilder(new DistributedApplicationModel(builder.Resources), builder.ExecutionContext, "1.0.0");
        var file = await publisher.BuildAsync(TestContext.Current.CancellationToken);

        Assert.Equal("${LLMSTACK_API_KEY:?set LLMSTACK_API_KEY in .env (see .env.example)}", file.Services["proxy"].Environment["API_KEY"]);
        Assert.Contains("# The key the Web sends to the API.\nLLMSTACK_API_KEY=\n", publisher.Variables.ToEnvExample("header").ReplaceLineEndings("\n"));
    }

    [Fact]
    public async Task A_bind_mount_of_this_machine_stops_the_publish()
    {
        var builder = DistributedApplication.CreateBuilder(["--publisher", "compose", "--output-path", compose.Directory]);
        builder.AddContainer("cache", "redis", "7.4").WithBindMount("/home/me/data", "/data");

        var error = await Assert.ThrowsAsync<DistributedApplicationException>(() =>
            new ComposeFileBuilder(new DistributedApplicationModel(builder.Resources), builder.ExecutionContext, "1.0.0")
                .BuildAsync(TestContext.Current.CancellationToken));

        Assert.Contains("'cache' bind-mounts /home/me/data", error.Message);
    }

    [Fact]
    public void The_dashboard_has_a_row_per_replica_below_the_model_panels()
    {
        var dashboard = JsonNode.Parse(GrafanaDashboard.Json())!;
        var panels = dashboard["panels"]!.AsArray().Select(p => p!).ToList();
        var row = panels.FindIndex(p => (string)p["type"]! == "row");

        Assert.Equal(GrafanaDashboard.ReplicaRowTitle, (string)panels[row]["title"]!);
        Assert.Equal(GrafanaDashboard.Panels.Count, row);
        var below = panels.Skip(row + 1).ToList();
        Assert.Equal(GrafanaDashboard.ReplicaPanels.Select(p => p.Title), below.Select(p => (string)p["title"]!));
        Assert.All(below, panel =>
        {
            Assert.True((int)panel["gridPos"]!["y"]! > (int)panels[row]["gridPos"]!["y"]!);
            Assert.All(panel["targets"]!.AsArray(), target => Assert.Contains("server_address", (string)target!["expr"]!));
        });
    }

    [Fact]
    public void Dashboard_queries_only_name_metrics_the_readme_documents()
    {
        // The container tests check these names against a live API's /metrics; this keeps the README honest too.
        var readme = File.ReadAllText(Repository.PathOf("README.md"));
        foreach (var metric in GrafanaDashboard.Panels.Concat(GrafanaDashboard.ReplicaPanels).SelectMany(p => p.Queries).SelectMany(q => MetricNames(q.Expression)))
        {
            Assert.Contains($"`{metric}`", readme);
        }
    }

    /// <summary>The metric families a PromQL expression reads (histogram series suffixes removed).</summary>
    public static IEnumerable<string> MetricNames(string expression) =>
        MetricName().Matches(expression).Select(m => Regex.Replace(m.Value, "_(bucket|sum|count)$", "")).Distinct();

    // Not $${...}: that is Compose's escape for a shell variable.
    [GeneratedRegex(@"(?<!\$)\$\{([A-Z0-9_]+)(?::[-?][^}]*)?\}")]
    private static partial Regex VariableReference();

    // A metric is followed by its label matchers; label names (gen_ai_request_model) are not.
    [GeneratedRegex(@"\b(gen_ai|llmstack)_[a-z_]+(?=\{)")]
    private static partial Regex MetricName();

    private sealed class OddResource(string name) : Resource(name);
}
