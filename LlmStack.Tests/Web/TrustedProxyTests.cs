using System.Net;
using LlmStack.Tests.Browser;
using LlmStack.Tests.Fixtures;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace LlmStack.Tests.Web;

/// <summary>
/// <c>X-Forwarded-Proto</c> and <c>X-Forwarded-For</c> count only from <c>LlmStack:TrustedProxy</c>: from it, the Web
/// sees the client's https (its sign-in redirect says https); from anyone else the same headers change nothing.
/// </summary>
public sealed class TrustedProxyTests
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("127.0.0.1", "https")]
    [InlineData("localhost", "https")]
    [InlineData("proxy.invalid", "http")]
    [InlineData(null, "http")]
    public async Task Forwarded_headers_count_only_from_the_trusted_proxy(string? trustedProxy, string seenScheme)
    {
        await using var api = InMemoryBackend.Serve(("scripted", InMemoryChatClient.Replying(["Hi"])));
        await using var web = new WebUiApplication(api.BaseAddress, settings: new Dictionary<string, string?> { ["LlmStack:TrustedProxy"] = trustedProxy });
        using var client = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = web.BaseAddress };

        using var response = await client.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/")
        {
            Headers = { { "X-Forwarded-Proto", "https" }, { "X-Forwarded-For", "203.0.113.7" } },
        }, Cancel);

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal(seenScheme, response.Headers.Location!.Scheme);
    }

    [Fact]
    public async Task A_proxy_name_that_does_not_resolve_is_said_once_not_at_every_resolution()
    {
        // Compose names the proxy service in every profile; without the proxy profile the name never resolves.
        var time = new FakeTimeProvider();
        using var logs = new CapturedLogs();
        using var factory = LoggerFactory.Create(logging => logging.AddProvider(logs));
        var proxy = new TrustedProxy("proxy.invalid", time, factory.CreateLogger<TrustedProxy>());

        for (var i = 0; i < 3; i++)
        {
            Assert.False(await proxy.IsProxyAsync(IPAddress.Loopback));
            time.Advance(TimeSpan.FromSeconds(11));
        }

        var warning = Assert.Single(logs.Entries, e => e.Category == typeof(TrustedProxy).FullName);
        Assert.Contains("The trusted proxy 'proxy.invalid' does not resolve", warning.Message, StringComparison.Ordinal);
    }
}
