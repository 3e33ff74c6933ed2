using System.Net;
using System.Net.Http.Headers;
using LlmStack.Tests.Browser;
using LlmStack.Tests.Fixtures;

namespace LlmStack.Tests.Web;

/// <summary>
/// The Web's machine-facing endpoints: <c>/metrics</c> follows the API's <c>LlmStack:Auth:ProtectMetrics</c> (asking
/// for the stack's key, as Prometheus sends it), health probes stay open, and a page stays behind sign-in for a caller
/// that holds the key - the key opens the scrape, not the chat.
/// </summary>
public sealed class InfrastructureEndpointsTests : IAsyncLifetime
{
    private const string Key = "stack-key-for-metrics-0123456789";

    private readonly ApiApplication _api = InMemoryBackend.Serve(("scripted", InMemoryChatClient.Replying(["Hi"])));
    private WebUiApplication _protected = null!;
    private WebUiApplication _open = null!;

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    public ValueTask InitializeAsync()
    {
        _protected = new WebUiApplication(_api.BaseAddress, settings: new Dictionary<string, string?>
        {
            ["LlmStack:ApiKey"] = Key,
            ["LlmStack:Auth:ProtectMetrics"] = "true",
        });
        _open = new WebUiApplication(_api.BaseAddress, settings: new Dictionary<string, string?> { ["LlmStack:ApiKey"] = Key });
        return ValueTask.CompletedTask;
    }

    [Fact]
    public async Task Protected_metrics_need_the_stack_key_and_nothing_else_opens_them()
    {
        using var client = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = _protected.BaseAddress };

        using var anonymous = await client.GetAsync("/metrics", Cancel);
        using var wrong = await GetAsync(client, "/metrics", "not-the-stack-key-at-all-0000");
        using var keyed = await GetAsync(client, "/metrics", Key);

        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal("Bearer", anonymous.Headers.WwwAuthenticate.ToString());
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Equal(HttpStatusCode.OK, keyed.StatusCode);
        Assert.Contains("# TYPE ", await keyed.Content.ReadAsStringAsync(Cancel), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_stack_key_does_not_open_the_chat_page()
    {
        using var client = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = _protected.BaseAddress };

        using var page = await GetAsync(client, "/", Key);

        Assert.Equal(HttpStatusCode.Redirect, page.StatusCode);
        Assert.Equal("/account/sign-in", new Uri(_protected.BaseAddress, page.Headers.Location!).AbsolutePath);
    }

    [Fact]
    public async Task Health_probes_need_no_key_and_unprotected_metrics_stay_open()
    {
        using var client = new HttpClient { BaseAddress = _protected.BaseAddress };
        using var openClient = new HttpClient { BaseAddress = _open.BaseAddress };

        using var live = await client.GetAsync("/healthz", Cancel);
        using var ready = await client.GetAsync("/readyz", Cancel);
        using var openMetrics = await openClient.GetAsync("/metrics", Cancel);

        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal("""{"status":"Healthy"}""", await ready.Content.ReadAsStringAsync(Cancel));
        Assert.Equal(HttpStatusCode.OK, openMetrics.StatusCode);
    }

    private static Task<HttpResponseMessage> GetAsync(HttpClient client, string path, string key) =>
        client.SendAsync(new HttpRequestMessage(HttpMethod.Get, path) { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", key) } }, Cancel);

    public async ValueTask DisposeAsync()
    {
        await _protected.DisposeAsync();
        await _open.DisposeAsync();
        await _api.DisposeAsync();
    }
}
