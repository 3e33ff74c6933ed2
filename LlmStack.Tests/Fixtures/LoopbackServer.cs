using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace LlmStack.Tests.Fixtures;

/// <summary>For factories that run on real Kestrel (<c>UseKestrel</c>): where the server listens.</summary>
public static class LoopbackServer
{
    /// <summary>The server's root URL (<c>http://127.0.0.1:&lt;port&gt;/</c>); starts the server on first use.</summary>
    public static Uri RootAddress<TEntryPoint>(this WebApplicationFactory<TEntryPoint> factory) where TEntryPoint : class
    {
        factory.StartServer();
        var addresses = factory.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>();
        return new Uri(addresses.Addresses.First() + "/");
    }
}
