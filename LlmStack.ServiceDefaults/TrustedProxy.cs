using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// <c>LlmStack:TrustedProxy</c>: the one reverse proxy (a host name such as the compose service <c>proxy</c>, or an IP
/// address) whose <c>X-Forwarded-For</c> and <c>X-Forwarded-Proto</c> a service believes - so that behind it the
/// client's address and <c>https</c> are what the service sees (secure cookies, OpenID Connect redirect URLs, the
/// sign-in throttle), while the same headers from anyone else are ignored. Unset, no forwarded header counts.
/// The name is resolved when a request arrives and the answer kept for <see cref="ResolveEvery"/>, because the
/// proxy's address changes when its container is recreated. Compose names the proxy service whether or not its
/// profile runs, so a name that does not resolve is said once (and again only after it resolved in between), not at
/// every resolution.
/// </summary>
public sealed partial class TrustedProxy(string proxy, TimeProvider time, ILogger<TrustedProxy> logger)
{
    public const string ConfigurationKey = "LlmStack:TrustedProxy";

    private static readonly TimeSpan ResolveEvery = TimeSpan.FromSeconds(10);

    private readonly Lock _gate = new();
    private IPAddress[] _addresses = [];
    private DateTimeOffset _resolvedAt = DateTimeOffset.MinValue;
    private Task<IPAddress[]>? _resolving;
    private bool? _resolvable;

    /// <summary>Whether <paramref name="remote"/> (the connection's peer) is the trusted proxy.</summary>
    public async ValueTask<bool> IsProxyAsync(IPAddress? remote)
    {
        if (remote is null)
        {
            return false;
        }
        if (remote.IsIPv4MappedToIPv6)
        {
            remote = remote.MapToIPv4();
        }
        var addresses = await AddressesAsync();
        return addresses.Contains(remote);
    }

    private Task<IPAddress[]> AddressesAsync()
    {
        if (IPAddress.TryParse(proxy, out var literal))
        {
            return Task.FromResult<IPAddress[]>([literal]);
        }
        lock (_gate)
        {
            if (time.GetUtcNow() - _resolvedAt < ResolveEvery)
            {
                return Task.FromResult(_addresses);
            }
            return _resolving ??= ResolveAsync();
        }
    }

    private async Task<IPAddress[]> ResolveAsync()
    {
        IPAddress[] addresses;
        try
        {
            addresses = [.. (await Dns.GetHostAddressesAsync(proxy)).Select(a => a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a)];
        }
        catch (SocketException ex)
        {
            // No proxy by that name (it is not running): nobody's forwarded headers count until it is.
            if (_resolvable is not false)
            {
                LogUnresolved(logger, proxy, ex.Message);
            }
            addresses = [];
        }
        lock (_gate)
        {
            _resolvable = addresses.Length > 0;
            _addresses = addresses;
            _resolvedAt = time.GetUtcNow();
            _resolving = null;
        }
        return addresses;
    }

    /// <summary>Registers the proxy check first in the request pipeline when <see cref="ConfigurationKey"/> is set.</summary>
    internal static void Register(IHostApplicationBuilder builder)
    {
        if (builder.Configuration[ConfigurationKey] is not { Length: > 0 } proxy)
        {
            return;
        }
        builder.Services.AddSingleton(services => new TrustedProxy(
            proxy.Trim(), services.GetRequiredService<TimeProvider>(), services.GetRequiredService<ILogger<TrustedProxy>>()));
        builder.Services.AddSingleton<IStartupFilter, StartupFilter>();
    }

    /// <summary>Ahead of everything else the app adds, so every later middleware sees the client as the proxy saw it.</summary>
    private sealed class StartupFilter(TrustedProxy proxy) : IStartupFilter
    {
        private const string FromProxy = "llmstack.from-trusted-proxy";

        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            var forwarded = new ForwardedHeadersOptions
            {
                ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto,
                // The peer was checked above; only its own entry (the rightmost) is believed.
                ForwardLimit = 1,
            };
            forwarded.KnownIPNetworks.Clear();
            forwarded.KnownProxies.Clear();
            app.Use(async (context, nextMiddleware) =>
            {
                if (await proxy.IsProxyAsync(context.Connection.RemoteIpAddress))
                {
                    context.Items[FromProxy] = true;
                }
                await nextMiddleware(context);
            });
            app.UseWhen(context => context.Items.ContainsKey(FromProxy), fromProxy => fromProxy.UseForwardedHeaders(forwarded));
            next(app);
        };
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The trusted proxy '{Proxy}' does not resolve ({Reason}); forwarded headers are ignored until it does")]
    private static partial void LogUnresolved(ILogger logger, string proxy, string reason);
}
