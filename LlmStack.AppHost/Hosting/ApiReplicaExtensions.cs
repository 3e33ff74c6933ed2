using Aspire.Hosting.ApplicationModel;
using LlmStack.AppHost.Redis;

namespace LlmStack.AppHost.Hosting;

/// <summary>What the AppHost finds on this machine when choosing where the API replicas' Redis runs.</summary>
/// <param name="FindRedisServer">The full path of <c>redis-server</c> on PATH, or null.</param>
/// <param name="FindContainerRuntime">Asks the container runtimes (given Aspire's configured one, if any).</param>
/// <param name="FindContainerImage">Asks a runtime whether it has, or can pull, an image.</param>
internal sealed record RedisHostProbes(
    Func<string?> FindRedisServer,
    Func<string?, ContainerRuntimeAnswer> FindContainerRuntime,
    Func<string, string, ContainerImageAnswer> FindContainerImage)
{
    public static RedisHostProbes ThisMachine { get; } = new(
        // The local process needs a POSIX shell (its password goes through the environment).
        () => OperatingSystem.IsWindows() ? null : ExecutableSearch.FindOnPath("redis-server"),
        OllamaHostProbes.ThisMachine.FindContainerRuntime,
        OllamaHostProbes.ThisMachine.FindContainerImage);
}

/// <summary>LlmStack's API replicas (<c>Api:Replicas</c>) and the Redis they share.</summary>
public static class ApiReplicaExtensions
{
    /// <summary>Resource name of the Redis the API replicas share.</summary>
    public const string RedisResourceName = "redis";

    /// <summary>The published Redis container's data volume.</summary>
    public const string RedisDataVolumeName = "redis-data";

    /// <summary>
    /// Runs <c>Api:Replicas</c> API processes (default 1) behind the API's one address; with more than one, adds a Redis
    /// and hands it to every replica as <c>LlmStack:Auth:Redis</c> and <c>LlmStack:Responses:Redis</c>, so a key's
    /// budgets hold across them and a response stored by one is continued through another. What references the API
    /// (the Web) reaches any replica. Returns the Redis, or null with one replica.
    /// </summary>
    /// <exception cref="DistributedApplicationException">The value is invalid, or no Redis can run here; the message names the key.</exception>
    public static IResourceBuilder<IResourceWithConnectionString>? WithConfiguredReplicas(this IResourceBuilder<ProjectResource> api) =>
        api.WithConfiguredReplicas(RedisHostProbes.ThisMachine, Console.Out);

    internal static IResourceBuilder<IResourceWithConnectionString>? WithConfiguredReplicas(
        this IResourceBuilder<ProjectResource> api, RedisHostProbes probes, TextWriter console)
    {
        ArgumentNullException.ThrowIfNull(api);

        var builder = api.ApplicationBuilder;
        var settings = ApiReplicaSettings.Read(builder.Configuration);
        if (settings.Replicas == 1)
        {
            return null;
        }

        var (redis, where) = builder.AddRedisForReplicas(probes);
        console.WriteLine($"API: {settings.Replicas} replicas behind one address, sharing key budgets and stored responses in Redis ({where}).");
        api.WithReplicas(settings.Replicas)
            .WithEnvironment("LlmStack__Auth__Redis", redis)
            .WithEnvironment("LlmStack__Responses__Redis", redis)
            // Budgets fail closed without their Redis: a replica started before it would refuse every key with a budget.
            .WaitFor(redis);
        return redis;
    }

    private static (IResourceBuilder<IResourceWithConnectionString> Redis, string Where) AddRedisForReplicas(
        this IDistributedApplicationBuilder builder, RedisHostProbes probes)
    {
        if (builder.ExecutionContext.IsPublishMode)
        {
            // A deployment keeps what is in Redis (stored responses, the budgets' windows) across a restart of it.
            return (builder.AddRedis(RedisResourceName).WithDataVolume(RedisDataVolumeName).AsConnectionString(), "the Redis container");
        }

        // A local redis-server first: it starts in a second, and has no image to get.
        if (probes.FindRedisServer() is { } redisServer)
        {
            return (builder.AddRedisServer(RedisResourceName, redisServer).AsConnectionString(), $"{redisServer} on loopback");
        }

        var runtime = probes.FindContainerRuntime(AspireContainerRuntime.Configured(builder.Configuration));
        if (runtime.Runtime is null)
        {
            throw NoRedis($"no 'redis-server' on PATH and no container runtime answered ({runtime.Detail})");
        }
        AspireContainerRuntime.UseAnswering(builder.Configuration, runtime.Runtime);
        var container = builder.AddRedis(RedisResourceName);
        var image = container.Resource.TryGetContainerImageName(out var reference) ? reference : RedisResourceName;
        var answer = probes.FindContainerImage(runtime.Runtime, image);
        return answer.Available
            ? (container.AsConnectionString(), $"a container on {runtime.Detail}; {answer.Detail}")
            : throw NoRedis($"no 'redis-server' on PATH, and {answer.Detail}");
    }

    private static IResourceBuilder<IResourceWithConnectionString> AsConnectionString<T>(this IResourceBuilder<T> redis)
        where T : IResourceWithConnectionString =>
        redis.ApplicationBuilder.CreateResourceBuilder<IResourceWithConnectionString>(redis.Resource);

    private static DistributedApplicationException NoRedis(string why) => new(
        $"LlmStack cannot start: {ApiReplicaSettings.ReplicasKey} above 1 needs a Redis for the replicas to share, but {why}. " +
        $"Install redis-server (e.g. apt-get install redis-server, brew install redis), start Docker or Podman, or set {ApiReplicaSettings.ReplicasKey}=1.");
}
