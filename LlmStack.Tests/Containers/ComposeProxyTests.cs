using System.ClientModel;
using System.ClientModel.Primitives;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;
using System.Text.RegularExpressions;
using LlmStack.Tests.Fixtures;
using OpenAI;
using OpenAI.Chat;

namespace LlmStack.Tests.Containers;

/// <summary>
/// The compose stack with the <c>proxy</c> profile on, as a client on the host and one elsewhere on the network meet
/// it: HTTPS from Caddy with its own CA (no public certificate without a domain), plain HTTP redirected to it, the
/// OpenAI SDK working through it with the stack's key, the API and the Web themselves reachable only on 127.0.0.1 (the
/// proxy reaches them on the compose network), and forwarded headers believed only from the proxy.
/// </summary>
[Collection(ProxiedCpuStackTests.Collection)]
public sealed partial class ComposeProxyTests(ProxiedCpuStack proxied)
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private ComposeStack Stack => proxied.Stack;

    [Fact]
    public async Task Https_is_served_with_the_proxys_own_ca_and_plain_http_is_redirected_to_it()
    {
        Assert.SkipWhen(proxied.UnavailableReason is not null, proxied.UnavailableReason ?? "");

        // A client that trusts only the system's roots refuses the certificate: no public CA signed it.
        using (var untrusting = new HttpClient { Timeout = Bound })
        {
            var refused = await Assert.ThrowsAsync<HttpRequestException>(() => untrusting.GetAsync(proxied.Https, Cancel));
            Assert.IsType<AuthenticationException>(refused.InnerException);
        }

        // Given Caddy's root (what an operator hands to clients), the chain checks out for the site's name.
        string? issuer = null;
        using var handler = new SocketsHttpHandler
        {
            SslOptions =
            {
                CertificateChainPolicy = new()
                {
                    TrustMode = System.Security.Cryptography.X509Certificates.X509ChainTrustMode.CustomRootTrust,
                    CustomTrustStore = { proxied.CaRoot },
                    RevocationMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck,
                },
                RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
                {
                    issuer = certificate?.Issuer;
                    return errors == System.Net.Security.SslPolicyErrors.None;
                },
            },
            AllowAutoRedirect = false,
        };
        using var https = new HttpClient(handler) { Timeout = Bound };
        using var models = await https.SendAsync(new HttpRequestMessage(HttpMethod.Get, new Uri(proxied.Https, "v1/models"))
        {
            Headers = { Authorization = new("Bearer", Stack.ApiKey) },
        }, Cancel);
        Assert.Equal(HttpStatusCode.OK, models.StatusCode);
        Assert.Contains(ProxiedCpuStack.Model, await models.Content.ReadAsStringAsync(Cancel), StringComparison.Ordinal);
        Assert.NotNull(issuer);
        Assert.Contains("Caddy Local Authority", issuer, StringComparison.Ordinal);

        // Plain HTTP answers only with a permanent redirect to the same path over HTTPS (Caddy's standard port: the
        // host port here is a test's; a deployment publishes 80 and 443).
        using var http = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false }) { Timeout = Bound };
        using var redirect = await http.GetAsync(new Uri(proxied.Http, "v1/models?x=1"), Cancel);
        Assert.Equal(HttpStatusCode.PermanentRedirect, redirect.StatusCode);
        Assert.Equal(new Uri($"https://{ProxiedCpuStack.Domain}/v1/models?x=1"), redirect.Headers.Location);
    }

    [Fact]
    public async Task The_openai_sdk_works_through_the_proxy_with_the_key_and_is_refused_without_it()
    {
        Assert.SkipWhen(proxied.UnavailableReason is not null, proxied.UnavailableReason ?? "");
        using var http = proxied.TrustingClient();
        var options = new OpenAIClientOptions { Endpoint = new Uri(proxied.Https, "v1"), Transport = new HttpClientPipelineTransport(http) };
        var expected = string.Concat(OllamaTestServer.ReplyTokens);

        var chat = new ChatClient(ProxiedCpuStack.Model, new ApiKeyCredential(Stack.ApiKey), options);
        var completion = await chat.CompleteChatAsync([new UserChatMessage("Hello through the proxy")], cancellationToken: Cancel);
        Assert.Equal(expected, completion.Value.Content[0].Text);
        Assert.True(completion.Value.Usage.OutputTokenCount > 0);

        var streamed = new StringBuilder();
        await foreach (var update in chat.CompleteChatStreamingAsync([new UserChatMessage("Stream through the proxy")], cancellationToken: Cancel))
        {
            foreach (var part in update.ContentUpdate)
            {
                streamed.Append(part.Text);
            }
        }
        Assert.Equal(expected, streamed.ToString());

        var refused = await Assert.ThrowsAsync<ClientResultException>(() =>
            new ChatClient(ProxiedCpuStack.Model, new ApiKeyCredential("sk-not-the-stacks-key-0123456789"), options)
                .CompleteChatAsync([new UserChatMessage("Hello?")], cancellationToken: Cancel));
        Assert.Equal(401, refused.Status);
    }

    [Fact]
    public async Task The_proxy_does_not_publish_metrics_and_the_chat_page_behind_it_asks_for_a_sign_in()
    {
        Assert.SkipWhen(proxied.UnavailableReason is not null, proxied.UnavailableReason ?? "");
        using var https = proxied.TrustingClient(allowRedirects: false);

        using var metrics = await https.SendAsync(new HttpRequestMessage(HttpMethod.Get, new Uri(proxied.Https, "metrics"))
        {
            Headers = { Authorization = new("Bearer", Stack.ApiKey) },
        }, Cancel);
        Assert.Equal(HttpStatusCode.NotFound, metrics.StatusCode);

        // The Web, behind the proxy, sees the client's https (the proxy's X-Forwarded-Proto) and redirects within it.
        using var page = await https.GetAsync(proxied.Https, Cancel);
        Assert.Equal(HttpStatusCode.Redirect, page.StatusCode);
        Assert.Equal("https", page.Headers.Location!.Scheme);
        Assert.Contains("/account/sign-in", page.Headers.Location.AbsolutePath, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_api_and_the_web_answer_only_on_loopback_while_the_proxy_answers_on_every_address()
    {
        Assert.SkipWhen(proxied.UnavailableReason is not null, proxied.UnavailableReason ?? "");
        // Every other address of this host: its network interfaces and the Docker bridges (the compose network's too).
        var others = NetworkInterface.GetAllNetworkInterfaces()
            .SelectMany(n => n.GetIPProperties().UnicastAddresses)
            .Select(a => a.Address)
            .Where(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a))
            .Distinct()
            .ToList();
        Assert.NotEmpty(others);

        Assert.True(await ConnectsAsync(IPAddress.Loopback, Stack.Api.Port), "the API does not answer on 127.0.0.1");
        Assert.True(await ConnectsAsync(IPAddress.Loopback, Stack.Web.Port), "the Web does not answer on 127.0.0.1");
        foreach (var address in others)
        {
            Assert.False(await ConnectsAsync(address, Stack.Api.Port), $"the API answers on {address}:{Stack.Api.Port}");
            Assert.False(await ConnectsAsync(address, Stack.Web.Port), $"the Web answers on {address}:{Stack.Web.Port}");
            Assert.True(await ConnectsAsync(address, Stack.ProxyHttpsPort), $"the proxy does not answer on {address}:{Stack.ProxyHttpsPort}");
        }
    }

    [Fact]
    public async Task Forwarded_headers_from_a_direct_connection_are_not_believed()
    {
        Assert.SkipWhen(proxied.UnavailableReason is not null, proxied.UnavailableReason ?? "");
        using var handler = new SocketsHttpHandler { AllowAutoRedirect = false, CookieContainer = new CookieContainer() };
        using var direct = new HttpClient(handler) { BaseAddress = Stack.Web, Timeout = Bound };

        // A caller on the host claiming to be the proxy's https client: the Web's redirect stays on plain http.
        using (var page = await direct.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/")
        {
            Headers = { { "X-Forwarded-Proto", "https" }, { "X-Forwarded-For", "203.0.113.7" } },
        }, Cancel))
        {
            Assert.Equal(HttpStatusCode.Redirect, page.StatusCode);
            Assert.Equal("http", page.Headers.Location!.Scheme);
        }

        // Nor is its X-Forwarded-For: claiming a new client address on every sign-in attempt does not get past the
        // per-address limit (LlmStack:Accounts:AttemptsPerMinutePerAddress, 20 a minute by default, refilled as time
        // passes) - the Web counts the connection's own address. Each claimed address alone would never be limited.
        var attempts = 0;
        string answer;
        do
        {
            attempts++;
            answer = await SignInAsync(direct, $"198.51.100.{attempts}");
        }
        while (answer.Contains("Wrong user name or password.", StringComparison.Ordinal) && attempts < 200);
        Assert.Matches(@"Too many sign-in attempts from your address\. Try again in \d+ s\.", answer);
        Assert.True(attempts > 20, $"limited after {attempts} attempts: the budget is 20");
    }

    /// <summary>A failed sign-in posted as a browser posts it (antiforgery token and cookie), claiming <paramref name="forwardedFor"/>.</summary>
    private static async Task<string> SignInAsync(HttpClient http, string forwardedFor)
    {
        var form = await http.GetStringAsync("account/sign-in", Cancel);
        var token = AntiforgeryToken().Match(form).Groups[1].Value;
        using var posted = await http.SendAsync(new HttpRequestMessage(HttpMethod.Post, "account/sign-in")
        {
            Headers = { { "X-Forwarded-For", forwardedFor } },
            Content = new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["_handler"] = "sign-in",
                ["__RequestVerificationToken"] = token,
                ["Input.UserName"] = "nobody-by-that-name",
                ["Input.Password"] = "a-guessed-password-123",
            }),
        }, Cancel);
        Assert.Equal(HttpStatusCode.OK, posted.StatusCode);
        return await posted.Content.ReadAsStringAsync(Cancel);
    }

    private static async Task<bool> ConnectsAsync(IPAddress address, int port)
    {
        using var client = new TcpClient(AddressFamily.InterNetwork);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Cancel);
        timeout.CancelAfter(TimeSpan.FromSeconds(5));
        try
        {
            await client.ConnectAsync(address, port, timeout.Token);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
        catch (OperationCanceledException) when (!Cancel.IsCancellationRequested)
        {
            // Dropped rather than refused: not reachable either.
            return false;
        }
    }

    [GeneratedRegex("name=\"__RequestVerificationToken\" value=\"([^\"]+)\"")]
    private static partial Regex AntiforgeryToken();
}
