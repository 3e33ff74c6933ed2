using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using LlmStack.Tests.Fixtures;

namespace LlmStack.Tests.Containers;

/// <summary>
/// The published compose project brought up for real - by default the <c>embedded</c> profile's API, the Web and
/// Prometheus - under a project name of its own, on free ports (loopback, as .env.example binds them, but the proxy's),
/// with stand-ins for the third-party images, and always taken down with its volumes.
/// When no Docker engine answers, nothing starts and <see cref="UnavailableReason"/> says why (the tests skip).
/// </summary>
public sealed class ComposeStack : IAsyncLifetime
{
    private static readonly TimeSpan UpTimeout = TimeSpan.FromMinutes(5);

    private readonly PublishedCompose _compose;
    private readonly string _project = $"llmstack-test-{Guid.NewGuid():N}"[..22];
    private readonly string _profiles;
    private readonly string[] _services;
    private readonly string[] _jobs;
    private readonly IReadOnlyDictionary<string, string> _settings;
    private readonly IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> _environment;
    private readonly IReadOnlyDictionary<string, IReadOnlyList<string>> _ports;
    private readonly bool _waitUntilReady;
    private bool _started;

    public ComposeStack()
        : this(EmbeddedProfile, Services, jobs: [], new Dictionary<string, string>(), environment: null, waitUntilReady: true)
    {
    }

    /// <summary>Another stack of the same compose project: some of its services, more <c>.env</c> settings.</summary>
    /// <param name="waitUntilReady">Whether starting waits for the API's model too (its <c>/readyz</c>), not only for health.</param>
    internal ComposeStack(string[] services, IReadOnlyDictionary<string, string> settings, bool waitUntilReady)
        : this(EmbeddedProfile, services, jobs: [], settings, environment: null, waitUntilReady)
    {
    }

    /// <param name="profiles">COMPOSE_PROFILES, e.g. <c>cpu,proxy</c>.</param>
    /// <param name="services">The long-running services to start; each must turn healthy.</param>
    /// <param name="jobs">One-shot services (a model pull) that must have exited with 0.</param>
    /// <param name="environment">More environment per service, through the tests' override file (a setting .env does not carry).</param>
    /// <param name="compose">The published project (by default the one with one API replica).</param>
    /// <param name="ports">More published ports per service (<c>host:container</c>), through the tests' override file.</param>
    internal ComposeStack(string profiles, string[] services, string[] jobs, IReadOnlyDictionary<string, string> settings,
        IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>>? environment, bool waitUntilReady,
        PublishedCompose? compose = null, IReadOnlyDictionary<string, IReadOnlyList<string>>? ports = null)
    {
        _compose = compose ?? new PublishedCompose();
        _ports = ports ?? new Dictionary<string, IReadOnlyList<string>>();
        _profiles = profiles;
        _services = services;
        _jobs = jobs;
        _settings = settings;
        _environment = environment ?? new Dictionary<string, IReadOnlyDictionary<string, string>>();
        _waitUntilReady = waitUntilReady;
    }

    internal const string EmbeddedProfile = "embedded";

    public string? UnavailableReason { get; private set; }

    public PublishedCompose Compose => _compose;

    public Uri Api { get; } = FreeLoopbackAddress();

    public Uri Web { get; } = FreeLoopbackAddress();

    public Uri Prometheus { get; } = FreeLoopbackAddress();

    /// <summary>The proxy profile's HTTP port on the host (published on every address, as .env.example has it).</summary>
    public int ProxyHttpPort { get; } = FreePort(IPAddress.Any);

    /// <summary>The proxy profile's HTTPS port on the host.</summary>
    public int ProxyHttpsPort { get; } = FreePort(IPAddress.Any);

    /// <summary>The key the API accepts (and the Web sends), as a user sets it in .env.</summary>
    public string ApiKey { get; } = $"test-{Guid.NewGuid():N}";

    /// <summary>The chat page administrator's password, as a user sets it in .env.</summary>
    public string AdminPassword { get; } = $"admin-{Guid.NewGuid():N}";

    /// <summary>The services this stack runs: the embedded profile's API, the Web and Prometheus (no Grafana image here).</summary>
    public static readonly string[] Services = ["api-embedded", "web", "prometheus"];

    public async ValueTask InitializeAsync()
    {
        UnavailableReason = await DockerEngine.UnavailableReasonAsync();
        if (UnavailableReason is not null)
        {
            return;
        }
        await _compose.InitializeAsync();
        await ContainerImages.LlmStackAsync();
        var standIns = new Dictionary<string, string>();
        foreach (var service in _services.Concat(_jobs))
        {
            switch (service)
            {
                case "prometheus":
                    await ContainerImages.PrometheusAsync();
                    standIns[service] = ContainerImages.PrometheusStandIn;
                    break;
                case "proxy":
                    await ContainerImages.CaddyAsync();
                    standIns[service] = ContainerImages.CaddyStandIn;
                    break;
                case "redis":
                    await ContainerImages.RedisAsync();
                    standIns[service] = ContainerImages.RedisStandIn;
                    break;
                case "ollama" or "ollama-pull":
                    await ContainerImages.OllamaStandInAsync();
                    standIns[service] = $"{ContainerImages.OllamaStandInImage}:{ContainerImages.OllamaStandInTag}";
                    break;
            }
        }
        // docker-compose 1.29 reads an override without services as the version 1 format, which it refuses beside 3.9.
        if (standIns.Count + _environment.Count + _ports.Count > 0)
        {
            await File.WriteAllTextAsync(Path.Combine(_compose.Directory, OverrideFile), ContainerImages.ComposeOverride(standIns, _environment, _ports));
        }

        await File.WriteAllTextAsync(Path.Combine(_compose.Directory, ".env"), $"""
            COMPOSE_PROFILES={_profiles}
            LLMSTACK_BIND_ADDRESS=127.0.0.1
            LLMSTACK_API_PORT={Api.Port}
            LLMSTACK_WEB_PORT={Web.Port}
            MONITORING_BIND_ADDRESS=127.0.0.1
            PROMETHEUS_PORT={Prometheus.Port}
            PROXY_HTTP_PORT={ProxyHttpPort}
            PROXY_HTTPS_PORT={ProxyHttpsPort}
            GRAFANA_ADMIN_PASSWORD=not-started-in-tests
            LLMSTACK_API_KEY={ApiKey}
            LLMSTACK_WEB_ADMIN_PASSWORD={AdminPassword}
            {string.Concat(_settings.Select(s => $"{s.Key}={s.Value}\n"))}
            """);
        _started = true;
        await ComposeAsync(UpTimeout, ["up", "-d", .. _services, .. _jobs]);
        await WaitUntilHealthyAsync();
        if (_waitUntilReady)
        {
            await WaitUntilApiReadyAsync();
        }
    }

    /// <summary>Healthy means the API answers; ready means its model answers too (the demo model loads at start).</summary>
    public Task WaitUntilApiReadyAsync() => WaitUntilReadyAsync(Api);

    /// <summary>Returns once the API at <paramref name="api"/> (a host port of one of its containers) says it is ready.</summary>
    public static async Task WaitUntilReadyAsync(Uri api)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        var status = "";
        while (DateTime.UtcNow < deadline)
        {
            using var response = await http.GetAsync(new Uri(api, "readyz"));
            if (response.IsSuccessStatusCode)
            {
                return;
            }
            status = $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}";
            await Task.Delay(TimeSpan.FromMilliseconds(500));
        }
        throw new InvalidOperationException($"The API container at {api} did not turn ready within a minute: /readyz {status}");
    }

    /// <summary>Runs docker-compose on this stack's project (its folder, its name).</summary>
    public Task<string> ComposeAsync(TimeSpan timeout, params string[] arguments) =>
        DockerEngine.CheckedAsync("docker-compose",
            ["-p", _project, "-f", PublishedCompose.FileName, .. File.Exists(Path.Combine(_compose.Directory, OverrideFile)) ? ["-f", OverrideFile] : Array.Empty<string>(), .. arguments],
            timeout, workingDirectory: _compose.Directory);

    /// <summary>The tests' own compose file beside the published one: which stand-in image runs for which service.</summary>
    private const string OverrideFile = "docker-compose.test.yaml";

    /// <summary>A service's container id.</summary>
    public async Task<string> ContainerAsync(string service) => (await ComposeAsync(TimeSpan.FromSeconds(30), "ps", "-q", service)).Trim();

    /// <summary>Returns once every service of this stack is running and healthy and every job has exited with 0; throws with their logs if not.</summary>
    public async Task WaitUntilHealthyAsync()
    {
        var deadline = DateTime.UtcNow + UpTimeout;
        var states = new Dictionary<string, string>();
        while (DateTime.UtcNow < deadline)
        {
            foreach (var service in _services)
            {
                var container = await ContainerAsync(service);
                var state = await DockerEngine.DockerAsync(TimeSpan.FromSeconds(30), "inspect", "--format", "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}", container);
                states[service] = state.Output.Trim();
            }
            foreach (var job in _jobs)
            {
                var container = await ContainerAsync(job);
                var state = await DockerEngine.DockerAsync(TimeSpan.FromSeconds(30), "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", container);
                states[job] = state.Output.Trim();
            }
            if (_services.All(s => states[s] == "running healthy") && _jobs.All(j => states[j] == "exited 0"))
            {
                return;
            }
            if (_services.Any(s => states[s].StartsWith("exited", StringComparison.Ordinal) || states[s].EndsWith("unhealthy", StringComparison.Ordinal))
                || _jobs.Any(j => states[j].StartsWith("exited", StringComparison.Ordinal) && states[j] != "exited 0"))
            {
                break;
            }
            await Task.Delay(TimeSpan.FromSeconds(1));
        }
        var logs = await ComposeAsync(TimeSpan.FromSeconds(60), "logs", "--no-color", "--tail", "40");
        throw new InvalidOperationException(
            $"The compose stack did not turn healthy: {string.Join(", ", states.Select(s => $"{s.Key}: {s.Value}"))}{Environment.NewLine}{logs}");
    }

    /// <summary>Prometheus's view of its scrape targets (<c>/api/v1/targets</c>): job to health.</summary>
    public async Task<Dictionary<string, string>> ScrapeTargetsAsync(HttpClient http, CancellationToken cancellationToken)
    {
        var targets = JsonNode.Parse(await http.GetStringAsync(new Uri(Prometheus, "api/v1/targets"), cancellationToken))!;
        return targets["data"]!["activeTargets"]!.AsArray()
            .ToDictionary(t => (string)t!["labels"]!["job"]!, t => (string)t!["health"]!);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_started)
            {
                await ComposeAsync(TimeSpan.FromMinutes(2), "down", "-v", "--remove-orphans", "--timeout", "5");
            }
        }
        finally
        {
            await _compose.DisposeAsync();
        }
    }

    internal static Uri FreeLoopbackAddress() => new($"http://127.0.0.1:{FreePort(IPAddress.Loopback)}/");

    private static int FreePort(IPAddress address)
    {
        using var listener = new TcpListener(address, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
