extern alias apphost;

using Aspire.Hosting;
using Aspire.Hosting.Testing;
using LlmStack.Tests.Fixtures;

namespace LlmStack.Tests.EndToEnd;

/// <summary>
/// The whole stack started once per test class through its AppHost, with no Ollama (the API serves its
/// built-in demo model), as on a machine without Docker.
/// </summary>
public sealed class LlmStackAppFixture : IAsyncLifetime
{
    /// <summary>Cold start on a 2-core machine is a few seconds; the margin is for a loaded CI box.</summary>
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(2);

    /// <summary>The stack's API key (the AppHost's <c>llmstack-api-key</c> parameter), fixed for the tests.</summary>
    public const string ApiKey = "e2e0123456789abcdef0123456789abcdef";

    /// <summary>The argument that gives the AppHost <see cref="ApiKey"/> instead of a generated (and persisted) one.</summary>
    public const string ApiKeyArgument = $"--Parameters:llmstack-api-key={ApiKey}";

    /// <summary>The chat page administrator's password (the <c>llmstack-web-admin-password</c> parameter), fixed likewise.</summary>
    public const string AdminPasswordArgument = "--Parameters:llmstack-web-admin-password=e2eAdminPassword0123456789";

    private readonly AppHostWebData _webData = new();
    private DistributedApplication? _app;

    public DistributedApplication App => _app ?? throw new InvalidOperationException("The app has not started.");

    public async ValueTask InitializeAsync()
    {
        using var timeout = new CancellationTokenSource(StartTimeout);
        var cancellationToken = timeout.Token;

        var builder = await DistributedApplicationTestingBuilder.CreateAsync<apphost::Projects.LlmStack_AppHost>(
            [
                "--Ollama:Mode=none",
                ApiKeyArgument,
                AdminPasswordArgument,
                _webData.Argument,
                // No dashboard listens in tests: exporters retrying into nothing made every service slow to stop.
                "--Telemetry:OtlpExport=false",
            ],
            cancellationToken);
        _app = await builder.BuildAsync(cancellationToken);
        await _app.StartAsync(cancellationToken);
        await Task.WhenAll(
            _app.ResourceNotifications.WaitForResourceHealthyAsync("api", cancellationToken),
            _app.ResourceNotifications.WaitForResourceHealthyAsync("web", cancellationToken));
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync().WaitAsync(TimeSpan.FromSeconds(60));
            await _app.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(60));
        }
        _webData.Dispose();
    }
}
