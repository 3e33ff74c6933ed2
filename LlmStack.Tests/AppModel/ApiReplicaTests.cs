extern alias apphost;

using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using apphost::LlmStack.AppHost.Hosting;
using apphost::LlmStack.AppHost.Redis;

namespace LlmStack.Tests.AppModel;

/// <summary>Api:Replicas: N API processes behind one address, and the Redis they share budgets and stored responses through.</summary>
public sealed class ApiReplicaTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private static readonly ContainerRuntimeAnswer NoRuntime = new(null, "docker: Cannot connect to the Docker daemon; podman: not installed");

    [Fact]
    public async Task Two_api_replicas_share_one_redis_for_budgets_and_stored_responses()
    {
        await using var builder = await CreateAsync("--Ollama:Mode=none", "--Api:Replicas=2");
        var api = Project(builder, "api");

        var env = await ResourceConfiguration.PublishedEnvironmentAsync(api);

        Assert.Equal(2, Assert.Single(api.Annotations.OfType<ReplicaAnnotation>()).Replicas);
        var redis = Assert.Single(builder.Resources.OfType<IResourceWithConnectionString>(), r => r.Name == "redis");
        Assert.Equal("{redis.connectionString}", env["LlmStack__Auth__Redis"]);
        Assert.Equal("{redis.connectionString}", env["LlmStack__Responses__Redis"]);
        // A replica started before its Redis would refuse every key with a budget (they fail closed).
        Assert.Contains(api.Annotations.OfType<WaitAnnotation>(), w => w.Resource == redis);
    }

    [Fact]
    public async Task The_web_reaches_any_replica_through_the_api_s_one_address()
    {
        await using var builder = await CreateAsync("--Ollama:Mode=none", "--Api:Replicas=3");

        var web = await ResourceConfiguration.PublishedEnvironmentAsync(Project(builder, "web"));

        // The API's endpoint is proxied: one address in front of the three processes, which the proxy balances between.
        Assert.Equal("{api.bindings.http.url}", web["services__api__http__0"]);
        Assert.DoesNotContain("services__api__http__1", web.Keys);
        Assert.True(Assert.Single(Project(builder, "api").Annotations.OfType<EndpointAnnotation>(), e => e.Name == "http").IsProxied);
    }

    [Fact]
    public async Task One_api_process_by_default_and_no_redis()
    {
        await using var builder = await CreateAsync("--Ollama:Mode=none");
        var api = Project(builder, "api");

        var env = await ResourceConfiguration.PublishedEnvironmentAsync(api);

        Assert.Empty(api.Annotations.OfType<ReplicaAnnotation>());
        Assert.DoesNotContain(builder.Resources, r => r.Name == "redis");
        Assert.DoesNotContain("LlmStack__Auth__Redis", env.Keys);
        Assert.DoesNotContain("LlmStack__Responses__Redis", env.Keys);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-1")]
    [InlineData("17")]
    [InlineData("two")]
    [InlineData("1.5")]
    public async Task A_bad_replica_count_stops_the_apphost_naming_the_key(string value)
    {
        var error = await Assert.ThrowsAsync<DistributedApplicationException>(
            () => CreateAsync("--Ollama:Mode=none", $"--Api:Replicas={value}").AsTask().WaitAsync(Timeout, TestContext.Current.CancellationToken));

        Assert.Contains($"Api:Replicas '{value}' is not a number of API processes from 1 to 16.", error.Message);
    }

    [Fact]
    public async Task A_local_redis_server_runs_on_loopback_with_a_generated_password_kept_out_of_its_arguments()
    {
        var (builder, redis, console) = AddReplicas(["--Api:Replicas=2"], redisServer: "/usr/bin/redis-server", runtime: new("docker", "docker 28.0.1"));

        var server = Assert.IsType<RedisServerResource>(redis!.Resource);
        var arguments = await ResourceConfiguration.PublishedArgumentsAsync(server);
        var env = await ResourceConfiguration.PublishedEnvironmentAsync(server);

        Assert.Equal("/bin/sh", server.Command);
        Assert.Equal(["-c", "exec \"$0\" --port \"$1\" --bind 127.0.0.1 --save '' --appendonly no --requirepass \"$REDIS_PASSWORD\"",
            "/usr/bin/redis-server", "{redis.bindings.tcp.targetPort}"], arguments);
        Assert.Equal("{redis-password.value}", env["REDIS_PASSWORD"]);
        Assert.True(server.PasswordParameter.Secret);
        Assert.EndsWith(",password={redis-password.value}", server.ConnectionStringExpression.ValueExpression);
        Assert.Single(server.Annotations.OfType<HealthCheckAnnotation>());
        Assert.Equal("API: 2 replicas behind one address, sharing key budgets and stored responses in Redis (/usr/bin/redis-server on loopback).",
            console.Trim());
        Assert.Equal(2, Assert.Single(Project(builder, "api").Annotations.OfType<ReplicaAnnotation>()).Replicas);
    }

    [Fact]
    public void Without_redis_server_the_redis_container_runs_when_its_image_can_be_had()
    {
        var (_, redis, console) = AddReplicas(["--Api:Replicas=2"], redisServer: null, runtime: new("docker", "docker 28.0.1"));

        var container = Assert.IsType<RedisResource>(redis!.Resource);
        Assert.True(container.TryGetContainerImageName(out var image));
        Assert.StartsWith("docker.io/library/redis:", image);
        Assert.Contains("in Redis (a container on docker 28.0.1;", console);
    }

    [Fact]
    public void Without_redis_server_or_a_container_runtime_the_apphost_says_what_to_install()
    {
        var error = Assert.Throws<DistributedApplicationException>(() => AddReplicas(["--Api:Replicas=2"], redisServer: null, runtime: NoRuntime));

        Assert.StartsWith("LlmStack cannot start: Api:Replicas above 1 needs a Redis for the replicas to share, but no 'redis-server' on PATH " +
            "and no container runtime answered (docker: Cannot connect", error.Message);
        Assert.EndsWith("Install redis-server (e.g. apt-get install redis-server, brew install redis), start Docker or Podman, or set Api:Replicas=1.",
            error.Message);
    }

    [Fact]
    public void Without_redis_server_an_image_that_cannot_be_had_stops_the_apphost_instead_of_hanging()
    {
        var error = Assert.Throws<DistributedApplicationException>(() => AddReplicas(["--Api:Replicas=2"], redisServer: null,
            runtime: new("docker", "docker 28.0.1"), image: new(false, "docker cannot get docker.io/library/redis: no such host")));

        Assert.Contains("no 'redis-server' on PATH, and docker cannot get docker.io/library/redis: no such host.", error.Message);
    }

    [Fact]
    public void Publishing_always_models_the_redis_container()
    {
        var (_, redis, _) = AddReplicas(["--publisher", "manifest", "--output-path", Path.GetTempPath(), "--Api:Replicas=2"],
            redisServer: "/usr/bin/redis-server", runtime: NoRuntime);

        Assert.IsType<RedisResource>(redis!.Resource);
    }

    private static (IDistributedApplicationBuilder Builder, IResourceBuilder<IResourceWithConnectionString>? Redis, string Console) AddReplicas(
        string[] args, string? redisServer, ContainerRuntimeAnswer runtime, ContainerImageAnswer? image = null)
    {
        var builder = DistributedApplication.CreateBuilder(args);
        var console = new StringWriter();
        var api = builder.AddProject<apphost::Projects.LlmStack_Api>("api");
        var redis = api.WithConfiguredReplicas(
            new RedisHostProbes(() => redisServer, _ => runtime, (_, reference) => image ?? new(true, $"{reference} is present")), console);
        return (builder, redis, console.ToString());
    }

    private static ValueTask<IDistributedApplicationTestingBuilder> CreateAsync(params string[] args) =>
        new(DistributedApplicationTestingBuilder.CreateAsync<apphost::Projects.LlmStack_AppHost>(args, TestContext.Current.CancellationToken));

    private static ProjectResource Project(IDistributedApplicationBuilder builder, string name) =>
        builder.Resources.OfType<ProjectResource>().Single(p => p.Name == name);
}
