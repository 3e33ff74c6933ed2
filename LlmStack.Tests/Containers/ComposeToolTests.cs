using System.ComponentModel;
using LlmStack.Tests.Fixtures;

namespace LlmStack.Tests.Containers;

/// <summary>The generated files as the tools that consume them judge them: docker-compose and promtool (no engine needed).</summary>
public sealed class ComposeToolTests(PublishedCompose compose) : IClassFixture<PublishedCompose>
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData("cpu", new[] { "api-cpu", "grafana", "ollama", "ollama-pull", "prometheus", "web" })]
    [InlineData("gpu", new[] { "api-gpu", "grafana", "prometheus", "vllm", "web" })]
    [InlineData("embedded", new[] { "api-embedded", "grafana", "prometheus", "web" })]
    [InlineData("proxy", new[] { "proxy", "web" })]
    public async Task Docker_compose_accepts_every_profile(string profile, string[] services)
    {
        var environment = new Dictionary<string, string> { ["GRAFANA_ADMIN_PASSWORD"] = "set-in-dot-env", ["LLMSTACK_API_KEY"] = "set-in-dot-env", ["LLMSTACK_WEB_ADMIN_PASSWORD"] = "set-in-dot-env" };

        var result = await RunToolAsync("docker-compose", ["--profile", profile, "config", "--services"], environment);

        Assert.True(result.ExitCode == 0, result.Describe($"docker-compose --profile {profile} config"));
        // docker-compose 1.29 lists every service here, whatever the profile; Compose v2 only the profile's.
        Assert.Subset(result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).ToHashSet(), services.ToHashSet());
    }

    [Fact]
    public async Task Docker_compose_refuses_to_start_without_a_grafana_password()
    {
        var result = await RunToolAsync("docker-compose", ["--profile", "cpu", "config", "--quiet"],
            new Dictionary<string, string> { ["LLMSTACK_API_KEY"] = "set-in-dot-env", ["LLMSTACK_WEB_ADMIN_PASSWORD"] = "set-in-dot-env" });

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("set GRAFANA_ADMIN_PASSWORD in .env", result.Error);
    }

    [Fact]
    public async Task Promtool_accepts_the_prometheus_configuration()
    {
        // --syntax-only: the key file it names exists only inside Prometheus's container, written there at start.
        var result = await RunToolAsync("promtool", ["check", "config", "--syntax-only", "prometheus/prometheus.yml"], new Dictionary<string, string>());

        Assert.True(result.ExitCode == 0, result.Describe("promtool check config"));
        Assert.Contains("SUCCESS", result.Output + result.Error);
    }

    [Fact]
    public async Task Caddy_accepts_the_proxy_configuration()
    {
        // Adapting and provisioning it, as Caddy does at start; the domain is what .env would give the container.
        var result = await RunToolAsync("caddy", ["validate", "--config", "caddy/Caddyfile", "--adapter", "caddyfile"],
            new Dictionary<string, string> { ["LLMSTACK_DOMAIN"] = "chat.example.com", ["XDG_DATA_HOME"] = Path.Combine(compose.Directory, ".caddy-data") });

        Assert.True(result.ExitCode == 0, result.Describe("caddy validate"));
        Assert.Contains("Valid configuration", result.Output + result.Error);
    }

    private Task<CommandResult> RunToolAsync(string tool, string[] arguments, Dictionary<string, string> environment) =>
        RunToolAsync(compose.Directory, tool, arguments, environment);

    internal static async Task<CommandResult> RunToolAsync(string directory, string tool, string[] arguments, Dictionary<string, string> environment)
    {
        try
        {
            return await DockerEngine.RunAsync(tool, arguments, Bound, directory, environment);
        }
        catch (Win32Exception)
        {
            Assert.Skip($"{tool} is not installed; ./test.sh installs Debian's docker-compose, prometheus (promtool) and caddy when it runs as root");
            throw;
        }
    }
}

/// <summary>The files published with two API replicas, as docker-compose and Caddy judge them.</summary>
public sealed class ComposeReplicaToolTests(PublishedReplicaCompose compose) : IClassFixture<PublishedReplicaCompose>
{
    [Fact]
    public async Task Docker_compose_accepts_the_replicas_and_their_redis()
    {
        var environment = new Dictionary<string, string>
        {
            ["GRAFANA_ADMIN_PASSWORD"] = "set-in-dot-env", ["LLMSTACK_API_KEY"] = "set-in-dot-env",
            ["LLMSTACK_WEB_ADMIN_PASSWORD"] = "set-in-dot-env", ["REDIS_PASSWORD"] = "set-in-dot-env",
        };

        var result = await ComposeToolTests.RunToolAsync(compose.Directory, "docker-compose", ["--profile", "embedded", "config", "--services"], environment);

        Assert.True(result.ExitCode == 0, result.Describe("docker-compose --profile embedded config"));
        Assert.Subset(result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).ToHashSet(), new HashSet<string> { "api-embedded-1", "api-embedded-2", "redis", "web" });
    }

    [Fact]
    public async Task Caddy_accepts_the_balanced_proxy_configuration()
    {
        var result = await ComposeToolTests.RunToolAsync(compose.Directory, "caddy", ["validate", "--config", "caddy/Caddyfile", "--adapter", "caddyfile"],
            new Dictionary<string, string> { ["LLMSTACK_DOMAIN"] = "chat.example.com", ["XDG_DATA_HOME"] = Path.Combine(compose.Directory, ".caddy-data") });

        Assert.True(result.ExitCode == 0, result.Describe("caddy validate"));
        Assert.Contains("Valid configuration", result.Output + result.Error);
    }
}
