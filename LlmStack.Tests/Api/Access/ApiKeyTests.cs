using System.ClientModel;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using LlmStack.Api.Access;
using LlmStack.Tests.Fixtures;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using OpenAI;
using OpenAI.Chat;

namespace LlmStack.Tests.Api.Access;

/// <summary>API keys over real HTTP: what an OpenAI SDK, a probe and a scraper see.</summary>
public sealed class ApiKeyTests
{
    internal const string Key = "sk-test-0123456789abcdef";
    internal const string OtherKey = "sk-test-fedcba9876543210";

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    internal static Dictionary<string, string?> Keys(params (string Key, string Name)[] keys)
    {
        var settings = new Dictionary<string, string?>();
        for (var i = 0; i < keys.Length; i++)
        {
            settings[$"LlmStack:Auth:Keys:{i}:Key"] = keys[i].Key;
            settings[$"LlmStack:Auth:Keys:{i}:Name"] = keys[i].Name;
        }
        return settings;
    }

    private static ApiApplication Serve(Dictionary<string, string?> settings) =>
        InMemoryBackend.Serve(settings, ("scripted", InMemoryChatClient.Replying(["Hello", " there"])));

    private static ChatClient Sdk(ApiApplication app, string key) =>
        new("scripted", new ApiKeyCredential(key), new OpenAIClientOptions { Endpoint = app.OpenAIEndpoint });

    [Fact]
    public async Task The_OpenAI_SDK_gets_401_with_a_wrong_key_and_a_reply_with_the_right_one()
    {
        await using var app = Serve(Keys((Key, "alice"), (OtherKey, "bob")));

        var refused = await Assert.ThrowsAsync<ClientResultException>(() => Sdk(app, "sk-wrong-0123456789abcdef").CompleteChatAsync([new UserChatMessage("Hi")], cancellationToken: Cancel));
        Assert.Equal(401, refused.Status);
        Assert.Equal("invalid_api_key", ErrorEnvelope.Parse(refused.GetRawResponse()!.Content.ToString()).Code);

        Assert.Equal("Hello there", (await Sdk(app, Key).CompleteChatAsync([new UserChatMessage("Hi")], cancellationToken: Cancel)).Value.Content[0].Text);
        Assert.Equal("Hello there", (await Sdk(app, OtherKey).CompleteChatAsync([new UserChatMessage("Hi")], cancellationToken: Cancel)).Value.Content[0].Text);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("Basic c2stdGVzdA==")]
    [InlineData("Bearer ")]
    [InlineData("Bearer sk-test-0123456789abcdeX")]
    public async Task A_missing_or_wrong_key_is_401_invalid_api_key_in_the_envelope_before_the_body_is_read(string? authorization)
    {
        var model = InMemoryChatClient.Replying(["never"]);
        await using var app = InMemoryBackend.Serve(Keys((Key, "alice")), ("scripted", model));
        using var client = app.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            // Not even valid JSON: a 401 must come before anything reads the body.
            Content = new StringContent("{not json", Encoding.UTF8, "application/json"),
        };
        if (authorization is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
        }

        using var response = await client.SendAsync(request, Cancel);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        var error = await ErrorEnvelope.ReadAsync(response);
        Assert.Equal("invalid_api_key", error.Code);
        Assert.Equal("invalid_request_error", error.Type);
        Assert.DoesNotContain("0123456789", error.Message);
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
        Assert.Null(model.LastMessages);
    }

    [Fact]
    public async Task Without_configured_keys_the_API_is_open()
    {
        await using var app = Serve([]);
        using var client = app.CreateClient();

        using var response = await client.GetAsync("/v1/models", Cancel);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Health_probes_and_metrics_need_no_key_by_default()
    {
        await using var app = Serve(Keys((Key, "alice")));
        using var client = app.CreateClient();

        foreach (var path in new[] { "/healthz", "/readyz", "/metrics" })
        {
            using var response = await client.GetAsync(path, Cancel);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {response.StatusCode}");
        }
        using var models = await client.GetAsync("/v1/models", Cancel);
        Assert.Equal(HttpStatusCode.Unauthorized, models.StatusCode);
    }

    [Fact]
    public async Task Metrics_need_a_key_when_protected_and_health_probes_still_do_not()
    {
        var settings = Keys((Key, "alice"));
        settings["LlmStack:Auth:ProtectMetrics"] = "true";
        await using var app = Serve(settings);
        using var client = app.CreateClient();

        using var anonymous = await client.GetAsync("/metrics", Cancel);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal("invalid_api_key", (await ErrorEnvelope.ReadAsync(anonymous)).Code);

        using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics") { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", Key) } };
        using var authorized = await client.SendAsync(request, Cancel);
        Assert.Equal(HttpStatusCode.OK, authorized.StatusCode);

        using var health = await client.GetAsync("/readyz", Cancel);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    [Fact]
    public async Task Every_v1_endpoint_requires_the_API_key_policy()
    {
        await using var app = Serve(Keys((Key, "alice")));
        _ = app.BaseAddress;

        var endpoints = app.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText?.StartsWith("/v1", StringComparison.Ordinal) == true)
            .ToList();

        Assert.NotEmpty(endpoints);
        Assert.All(endpoints, endpoint => Assert.Contains(
            endpoint.Metadata.GetOrderedMetadata<IAuthorizeData>(), data => data.Policy == ApiKeyDefaults.Policy));
    }

    [Theory]
    [InlineData("short", "at least 16")]
    [InlineData("sk-test 0123456789abcdef", "without spaces")]
    public async Task A_weak_key_stops_the_API_at_start_naming_the_entry_not_the_secret(string key, string expected)
    {
        await using var app = Serve(Keys((key, "alice")));

        var failure = Assert.ThrowsAny<Exception>(() => app.BaseAddress);

        var message = failure.ToString();
        Assert.Contains("LlmStack:Auth:Keys:0:Key", message);
        Assert.Contains(expected, message);
        Assert.DoesNotContain(key, message.Replace("LlmStack:Auth:Keys:0:Key", "", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Two_keys_with_one_name_stop_the_API_at_start()
    {
        await using var app = Serve(Keys((Key, "alice"), (OtherKey, "alice")));

        var failure = Assert.ThrowsAny<Exception>(() => app.BaseAddress);

        Assert.Contains("LlmStack:Auth:Keys:1:Name 'alice'", failure.ToString());
    }

    [Theory]
    [InlineData("http://127.0.0.1:5080", true)]
    [InlineData("http://localhost:5080", true)]
    [InlineData("http://[::1]:5080", true)]
    [InlineData("http://0.0.0.0:5080", false)]
    [InlineData("http://*:8080", false)]
    [InlineData("http://[::]:8080", false)]
    [InlineData("http://10.0.0.4:8080", false)]
    public void Listening_beyond_loopback_is_told_apart(string address, bool loopback) =>
        Assert.Equal(loopback, OpenAccessWarning.IsLoopback(address));
}
