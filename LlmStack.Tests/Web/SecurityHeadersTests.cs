extern alias web;

using System.Net;
using System.Text.RegularExpressions;
using LlmStack.Tests.Browser;
using LlmStack.Tests.Fixtures;

namespace LlmStack.Tests.Web;

/// <summary>The browser protections every page of the Web UI carries, read over HTTP.</summary>
public sealed partial class SecurityHeadersTests : IAsyncLifetime
{
    private readonly ApiApplication _api = InMemoryBackend.Serve(("scripted", InMemoryChatClient.Replying(["Hi"])));
    private WebUiApplication _web = null!;

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    public ValueTask InitializeAsync()
    {
        _web = new WebUiApplication(_api.BaseAddress);
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        await _web.DisposeAsync();
        await _api.DisposeAsync();
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/no-such-page")]
    [InlineData("/app.css")]
    public async Task Every_response_carries_the_security_headers(string path)
    {
        using var client = new HttpClient { BaseAddress = _web.BaseAddress };

        using var response = await client.GetAsync(path, Cancel);

        var csp = Assert.Single(response.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("frame-ancestors 'none'", csp);
        Assert.Contains("object-src 'none'", csp);
        var scripts = ScriptSources().Match(csp);
        Assert.True(scripts.Success, csp);
        Assert.DoesNotContain("unsafe-inline", scripts.Value);
        Assert.DoesNotContain("unsafe-eval", scripts.Value);
        Assert.Equal("nosniff", Assert.Single(response.Headers.GetValues("X-Content-Type-Options")));
        Assert.Equal("DENY", Assert.Single(response.Headers.GetValues("X-Frame-Options")));
        Assert.Equal("strict-origin-when-cross-origin", Assert.Single(response.Headers.GetValues("Referrer-Policy")));
    }

    [Fact]
    public async Task The_only_inline_script_is_the_import_map_allowed_by_this_response_nonce()
    {
        using var client = new HttpClient { BaseAddress = _web.BaseAddress };

        using var first = await client.GetAsync("/", Cancel);
        using var second = await client.GetAsync("/", Cancel);
        var html = await first.Content.ReadAsStringAsync(Cancel);

        var nonce = Nonce().Match(Assert.Single(first.Headers.GetValues("Content-Security-Policy"))).Groups[1].Value;
        Assert.NotEqual(nonce, Nonce().Match(Assert.Single(second.Headers.GetValues("Content-Security-Policy"))).Groups[1].Value);
        var inline = InlineScripts().Matches(html).Select(m => m.Value).ToList();
        var importMap = Assert.Single(inline);
        Assert.Contains("type=\"importmap\"", importMap);
        Assert.Contains($"nonce=\"{nonce}\"", importMap);
    }

    [Theory]
    [InlineData("/account/sign-in", "sign-in")]
    [InlineData("/account/sign-out", null)]
    public async Task A_form_post_without_an_antiforgery_token_is_refused(string path, string? handler)
    {
        using var client = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = _web.BaseAddress };
        var fields = new List<KeyValuePair<string, string>> { new("Input.UserName", WebUiApplication.AdminUser), new("Input.Password", WebUiApplication.AdminPassword) };
        if (handler is not null)
        {
            fields.Add(new("_handler", handler));
        }

        using var response = await client.PostAsync(path, new FormUrlEncodedContent(fields), Cancel);

        // Another site's page cannot sign a visitor in (or out) with a form of its own.
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.False(response.Headers.Contains("Set-Cookie") && response.Headers.GetValues("Set-Cookie").Any(c => c.StartsWith("llmstack.session", StringComparison.Ordinal)));
    }

    [GeneratedRegex("script-src [^;]*")]
    private static partial Regex ScriptSources();

    [GeneratedRegex("'nonce-([^']+)'")]
    private static partial Regex Nonce();

    // A <script> element without a src attribute: inline code.
    [GeneratedRegex("<script(?![^>]*\\ssrc=)[^>]*>")]
    private static partial Regex InlineScripts();
}
