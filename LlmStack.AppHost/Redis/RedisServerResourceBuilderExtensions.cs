using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.DependencyInjection;

namespace LlmStack.AppHost.Redis;

/// <summary>Adds <c>redis-server</c> as a local process (where Aspire's Redis container cannot run).</summary>
public static class RedisServerResourceBuilderExtensions
{
    /// <summary>The variable the password reaches the server through: an argument would show in the process list.</summary>
    internal const string PasswordVariable = "REDIS_PASSWORD";

    /// <summary>
    /// Adds <c>redis-server</c> on a port Aspire allocates, bound to loopback, with a generated password
    /// (<c>&lt;name&gt;-password</c>) and no persistence, and the same health check Aspire's Redis container has.
    /// Needs a POSIX shell: the password is handed over through the environment.
    /// </summary>
    /// <param name="builder">The application builder.</param>
    /// <param name="name">The resource name; also the name of its connection string.</param>
    /// <param name="command">The <c>redis-server</c> executable: a path, or a name looked up on PATH.</param>
    public static IResourceBuilder<RedisServerResource> AddRedisServer(this IDistributedApplicationBuilder builder, [ResourceName] string name,
        string command = "redis-server")
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentException.ThrowIfNullOrWhiteSpace(command);

        var password = ParameterResourceBuilderExtensions.CreateDefaultPasswordParameter(builder, $"{name}-password", special: false);
        var resource = new RedisServerResource(name, "/bin/sh", builder.AppHostDirectory, password);

        string? connectionString = null;
        builder.Eventing.Subscribe<ConnectionStringAvailableEvent>(resource, async (_, cancellationToken) =>
            connectionString = await resource.ConnectionStringExpression.GetValueAsync(cancellationToken));
        var healthCheckKey = $"{name}_check";
        builder.Services.AddHealthChecks().AddRedis(
            _ => connectionString ?? throw new InvalidOperationException($"The connection string of '{name}' is not available yet."),
            name: healthCheckKey);

        return builder.AddResource(resource)
            .WithEndpoint(name: RedisServerResource.EndpointName, scheme: "tcp")
            .WithEnvironment(PasswordVariable, password)
            .WithArgs(context =>
            {
                // exec: the shell becomes the server, so stopping the resource stops Redis. The command and the port are the
                // script's $0 and $1: DCP's port template trims the spaces around it, so it stands as an argument of its own.
                context.Args.Add("-c");
                context.Args.Add($"exec \"$0\" --port \"$1\" --bind 127.0.0.1 --save '' --appendonly no --requirepass \"${PasswordVariable}\"");
                context.Args.Add(command);
                context.Args.Add(resource.PrimaryEndpoint.Property(EndpointProperty.TargetPort));
            })
            .WithIconName("Database")
            .WithHealthCheck(healthCheckKey)
            // A process on the developer's machine has no place on a deployment target.
            .ExcludeFromManifest();
    }
}
