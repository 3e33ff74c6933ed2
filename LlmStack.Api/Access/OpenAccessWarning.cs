using System.Net;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace LlmStack.Api.Access;

/// <summary>
/// One warning line at start when no API key is configured and the API listens beyond loopback: an open API
/// on a laptop is a convenience, an open API on a public port gives its CPU or GPU to whoever finds it.
/// </summary>
internal sealed partial class OpenAccessWarning(
    IServer server, IHostApplicationLifetime lifetime, ApiKeyDirectory keys, ILogger<OpenAccessWarning> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (!keys.Enabled)
        {
            // Addresses are known once the server listens.
            lifetime.ApplicationStarted.Register(WarnIfExposed);
        }
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private void WarnIfExposed()
    {
        var exposed = server.Features.Get<IServerAddressesFeature>()?.Addresses.Where(a => !IsLoopback(a)).ToList() ?? [];
        if (exposed.Count > 0)
        {
            LogOpenAccess(logger, string.Join(", ", exposed));
        }
    }

    internal static bool IsLoopback(string address)
    {
        var host = BindingAddress.Parse(address).Host.Trim('[', ']');
        return host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || (IPAddress.TryParse(host, out var ip) && IPAddress.IsLoopback(ip));
    }

    [LoggerMessage(EventId = 10, Level = LogLevel.Warning,
        Message = "No API key is configured (LlmStack:Auth:Keys) and the API listens on {Addresses}: anyone who can reach it can use its models. Configure keys, or listen on loopback only.")]
    private static partial void LogOpenAccess(ILogger logger, string addresses);
}
