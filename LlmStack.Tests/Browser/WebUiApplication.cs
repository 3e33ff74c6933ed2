extern alias web;

using System.Net;
using LlmStack.Tests.Fixtures;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace LlmStack.Tests.Browser;

/// <summary>
/// LlmStack.Web on real Kestrel at a loopback port, finding the API the way the AppHost tells it to
/// (<c>services:api:http:0</c>), so that a real browser can load it.
/// </summary>
public sealed class WebUiApplication : WebApplicationFactory<web::Program>
{
    private readonly Uri _apiAddress;
    private readonly IReadOnlyDictionary<string, string?> _settings;

    /// <param name="apiAddress">The API this UI talks to.</param>
    /// <param name="port">0 for any free port; a fixed one to restart the UI where a browser already knows it.</param>
    /// <param name="settings">Further configuration (e.g. <c>ModelDownload:DashboardUrl</c>).</param>
    public WebUiApplication(Uri apiAddress, int port = 0, IReadOnlyDictionary<string, string?>? settings = null)
    {
        _apiAddress = apiAddress;
        _settings = settings ?? new Dictionary<string, string?>();
        UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, port));
    }

    /// <summary>The page's URL; starts the server on first use.</summary>
    public Uri BaseAddress => this.RootAddress();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("OTEL_EXPORTER_OTLP_ENDPOINT", "");
        builder.UseSetting("services:api:http:0", _apiAddress.ToString());
        foreach (var (key, value) in _settings)
        {
            builder.UseSetting(key, value);
        }
    }
}
