using System.Net;
using LlmStack.Tests.Browser;
using LlmStack.Tests.Fixtures;

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
}
