namespace LlmStack.AppHost.Redis;

/// <summary>
/// <c>redis-server</c> run as a local process, for machines with no container runtime (Debian's <c>redis-server</c>
/// package, Homebrew's <c>redis</c>). It keeps nothing on disk: what the API keeps there (budgets, stored responses)
/// lives as long as the AppHost run.
/// </summary>
public sealed class RedisServerResource(string name, string command, string workingDirectory, ParameterResource password)
    : ExecutableResource(name, command, workingDirectory), IResourceWithConnectionString
{
    internal const string EndpointName = "tcp";

    private EndpointReference? _primaryEndpoint;

    public EndpointReference PrimaryEndpoint => _primaryEndpoint ??= new(this, EndpointName);

    /// <summary>The password the server requires (a secret parameter, as Aspire's Redis container has).</summary>
    public ParameterResource PasswordParameter { get; } = password;

    /// <summary>StackExchange.Redis's form, the one Aspire's Redis container gives: <c>host:port,password=...</c>.</summary>
    public ReferenceExpression ConnectionStringExpression =>
        ReferenceExpression.Create($"{PrimaryEndpoint.Property(EndpointProperty.HostAndPort)},password={PasswordParameter}");
}
