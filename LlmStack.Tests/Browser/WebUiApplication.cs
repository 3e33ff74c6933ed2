extern alias web;

using System.Net;
using LlmStack.Tests.Fixtures;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace LlmStack.Tests.Browser;

/// <summary>
/// LlmStack.Web on real Kestrel at a loopback port, finding the API the way the AppHost tells it to
/// (<c>services:api:http:0</c>), with its accounts and keys in a data directory of its own and the administrator's
/// password set as the AppHost sets it, so that a real browser can sign in and load it.
/// </summary>
public sealed class WebUiApplication : WebApplicationFactory<web::Program>
{
    public const string AdminUser = "admin";
    public const string AdminPassword = "admin-password-for-tests-0123";

    private readonly Uri _apiAddress;
    private readonly IReadOnlyDictionary<string, string?> _settings;
    private readonly bool _ownsDataDirectory;

    /// <param name="apiAddress">The API this UI talks to.</param>
    /// <param name="port">0 for any free port; a fixed one to restart the UI where a browser already knows it.</param>
    /// <param name="settings">Further configuration (e.g. <c>ModelDownload:DashboardUrl</c>).</param>
    /// <param name="dataDirectory">
    /// The accounts and Data Protection keys; a new temporary folder (removed with the UI) when null. A restarted UI
    /// is given its predecessor's, as a container gets its volume back.
    /// </param>
    public WebUiApplication(Uri apiAddress, int port = 0, IReadOnlyDictionary<string, string?>? settings = null, string? dataDirectory = null)
    {
        _apiAddress = apiAddress;
        _settings = settings ?? new Dictionary<string, string?>();
        _ownsDataDirectory = dataDirectory is null;
        DataDirectory = dataDirectory ?? Directory.CreateTempSubdirectory("llmstack-web-").FullName;
        UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, port));
    }

    public string DataDirectory { get; }

    /// <summary>The page's URL; starts the server on first use.</summary>
    public Uri BaseAddress => this.RootAddress();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("OTEL_EXPORTER_OTLP_ENDPOINT", "");
        builder.UseSetting("services:api:http:0", _apiAddress.ToString());
        builder.UseSetting("LlmStack:DataDirectory", DataDirectory);
        builder.UseSetting("LlmStack:Accounts:AdminPassword", AdminPassword);
        // Many tests sign in from this one address within a minute; the throttle's own test sets it low.
        builder.UseSetting("LlmStack:Accounts:AttemptsPerMinutePerAddress", "1000");
        foreach (var (key, value) in _settings)
        {
            builder.UseSetting(key, value);
        }
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        if (_ownsDataDirectory)
        {
            // SQLite's pooled connections may hold the file a moment longer; a leftover temp folder harms nothing.
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try
            {
                Directory.Delete(DataDirectory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
