using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;

namespace LlmStack.Tests.Fixtures;

/// <summary>
/// A minimal web server on a free loopback port, for tests that stand in for another service (an Ollama server,
/// an OpenAI-compatible upstream): the stand-in maps its endpoints, this hosts them.
/// </summary>
public sealed class LoopbackWebServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private LoopbackWebServer(WebApplication app)
    {
        _app = app;
        RootAddress = LoopbackServer.RootAddress(app.Services);
    }

    /// <summary>Where the server listens (<c>http://127.0.0.1:&lt;port&gt;/</c>).</summary>
    public Uri RootAddress { get; }

    /// <param name="mapEndpoints">Maps the stand-in's endpoints.</param>
    /// <param name="endpoint">Where to listen; a free loopback port when null (a stand-in in a container listens on all addresses).</param>
    public static async Task<LoopbackWebServer> StartAsync(Action<IEndpointRouteBuilder> mapEndpoints, IPEndPoint? endpoint = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(endpoint ?? new IPEndPoint(IPAddress.Loopback, 0)));
        var app = builder.Build();
        mapEndpoints(app);
        await app.StartAsync();
        return new LoopbackWebServer(app);
    }

    public async ValueTask DisposeAsync()
    {
        // Handlers that hold a response open until the client leaves are cut off when the bound runs out.
        using var stopping = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await _app.StopAsync(stopping.Token);
        await _app.DisposeAsync();
    }
}
