using LlmStack.Tests.Fixtures;
using static LlmStack.Tests.Fixtures.PublishedCompose;

namespace LlmStack.Tests.AppModel;

/// <summary>What <c>--publisher compose</c> writes with <c>Api:Replicas=2</c>, read back from the files.</summary>
public sealed class ComposeReplicaTests(PublishedReplicaCompose compose) : IClassFixture<PublishedReplicaCompose>
{
    // The generated password is asked for in .env, like the stack's key: Compose refuses to start without it.
    private const string RedisPassword = "${REDIS_PASSWORD:?set REDIS_PASSWORD in .env (see .env.example)}";

    [Fact]
    public void Each_api_service_runs_twice_beside_one_redis()
    {
        var names = compose.Services.Keys.Cast<string>().ToList();

        Assert.Equal(["api-cpu-1", "api-cpu-2", "api-embedded-1", "api-embedded-2", "api-gpu-1", "api-gpu-2"],
            names.Where(n => n.StartsWith("api", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
        Assert.Contains("redis", names);
        Assert.Empty(Strings(compose.Service("redis"), "profiles"));
        Assert.Equal(["embedded"], Strings(compose.Service("api-embedded-2"), "profiles"));
    }

    [Fact]
    public void Every_replica_keeps_budgets_and_stored_responses_in_the_redis_and_waits_for_it()
    {
        foreach (var name in new[] { "api-cpu-1", "api-cpu-2", "api-gpu-2", "api-embedded-1", "api-embedded-2" })
        {
            var api = compose.Service(name);
            var env = Environment(api);

            Assert.Equal($"redis:6379,password={RedisPassword}", env["LlmStack__Auth__Redis"]);
            Assert.Equal(env["LlmStack__Auth__Redis"], env["LlmStack__Responses__Redis"]);
            Assert.Equal("service_healthy", (string)Map(Map(api, "depends_on"), "redis")["condition"]);
        }
        Assert.Contains("REDIS_PASSWORD=", compose.EnvExample);
    }

    [Fact]
    public void Replicas_answer_to_their_own_name_and_only_the_first_publishes_the_host_port()
    {
        var first = compose.Service("api-embedded-1");
        var second = compose.Service("api-embedded-2");

        Assert.Equal(["api", "api-1"], Strings(Map(Map(first, "networks"), "default"), "aliases"));
        Assert.Equal(["api", "api-2"], Strings(Map(Map(second, "networks"), "default"), "aliases"));
        Assert.Equal(["${LLMSTACK_BIND_ADDRESS:-127.0.0.1}:${LLMSTACK_API_PORT:-5080}:8080"], Strings(first, "ports"));
        Assert.Empty(Strings(second, "ports"));
    }

    [Fact]
    public void The_web_balances_between_the_replicas_through_service_discovery()
    {
        var env = Environment(compose.Service("web"));

        Assert.Equal("http://api-1:8080", env["services__api__http__0"]);
        Assert.Equal("http://api-2:8080", env["services__api__http__1"]);
        Assert.DoesNotContain("services__api__http__2", env.Keys);
    }

    [Fact]
    public void The_proxy_balances_the_api_between_the_replicas_and_prometheus_scrapes_each()
    {
        var caddyfile = File.ReadAllText(Path.Combine(compose.Directory, "caddy/Caddyfile"));
        var prometheus = File.ReadAllText(Path.Combine(compose.Directory, "prometheus/prometheus.yml"));

        Assert.Matches(@"handle /v1/\* \{\s+reverse_proxy api-1:8080 api-2:8080 \{\s+lb_policy least_conn\s+fail_duration 10s\s+\}\s+\}", caddyfile);
        Assert.Matches(@"handle \{\s+reverse_proxy web:8080\s+\}", caddyfile);
        Assert.Contains("- targets: [\"api-1:8080\", \"api-2:8080\"]", prometheus);
        Assert.Contains("- targets: [\"web:8080\"]", prometheus);
    }

    [Fact]
    public void Redis_is_confined_like_the_other_services_and_keeps_its_data_in_a_volume()
    {
        var redis = compose.Service("redis");

        Assert.StartsWith("redis:", (string)redis["image"]);
        Assert.Equal("999:999", (string)redis["user"]);
        Assert.Equal(true, redis["read_only"] is string text ? bool.Parse(text) : redis["read_only"]);
        Assert.Equal(["ALL"], Strings(redis, "cap_drop"));
        Assert.Contains("no-new-privileges:true", Strings(redis, "security_opt"));
        Assert.Contains("redis-data:/data", Strings(redis, "volumes"));
        Assert.Contains("redis-data", compose.Volumes.Keys.Cast<string>());
        Assert.Equal(["CMD-SHELL", "redis-cli -a \"$$REDIS_PASSWORD\" --no-auth-warning ping | grep -q PONG"], Strings(Map(redis, "healthcheck"), "test"));
        Assert.Equal("512m", (string)Map(Map(Map(redis, "deploy"), "resources"), "limits")["memory"]);
        // The password reaches the server through its environment, never as a plain value in the file.
        Assert.Equal(RedisPassword, Environment(redis)["REDIS_PASSWORD"]);
        Assert.DoesNotContain(Strings(redis, "ports"), _ => true);
    }
}
