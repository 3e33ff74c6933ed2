using System.Net;
using System.Net.Http.Headers;
using System.Text;
using LlmStack.Tests.Fixtures;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace LlmStack.Tests.Api.Access;

/// <summary>Per-key request and token budgets over real HTTP, with a fake clock for the minute that must pass.</summary>
public sealed class KeyBudgetTests
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private readonly FakeTimeProvider _clock = new();

    private ApiApplication Serve(int? requestsPerMinute = null, int? tokensPerMinute = null)
    {
        var settings = ApiKeyTests.Keys((ApiKeyTests.Key, "alice"), (ApiKeyTests.OtherKey, "bob"));
        if (requestsPerMinute is { } requests)
        {
            settings["LlmStack:Auth:Keys:0:RequestsPerMinute"] = requests.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        if (tokensPerMinute is { } tokens)
        {
            settings["LlmStack:Auth:Keys:0:TokensPerMinute"] = tokens.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        // 7 prompt + 3 completion tokens a reply.
        var model = InMemoryChatClient.Replying(["a", "b", "c"], usage: new UsageDetails { InputTokenCount = 7, OutputTokenCount = 3, TotalTokenCount = 10 });
        return InMemoryBackend.Serve(settings, services => services.AddSingleton<TimeProvider>(_clock), ("scripted", model));
    }

    private static async Task<HttpResponseMessage> ChatAsync(HttpClient client, string key = ApiKeyTests.Key, bool stream = false, int? maxTokens = null)
    {
        var limit = maxTokens is { } max ? $"\"max_tokens\":{max}," : "";
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent($$"""{"model":"scripted","stream":{{(stream ? "true" : "false")}},{{limit}}"messages":[{"role":"user","content":"Hi"}]}""", Encoding.UTF8, "application/json"),
            Headers = { Authorization = new AuthenticationHeaderValue("Bearer", key) },
        };
        var response = await client.SendAsync(request, Cancel);
        // Read to the end: the reply is finished (and its usage charged) when its last byte is out.
        await response.Content.LoadIntoBufferAsync(Cancel);
        return response;
    }

    private static string Header(HttpResponseMessage response, string name) => Assert.Single(response.Headers.GetValues(name));

    [Fact]
    public async Task Beyond_the_request_budget_a_key_gets_429_with_retry_after_and_rate_limit_headers_then_recovers()
    {
        await using var app = Serve(requestsPerMinute: 2);
        using var client = app.CreateClient();

        using var first = await ChatAsync(client);
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal("2", Header(first, "x-ratelimit-limit-requests"));
        Assert.Equal("1", Header(first, "x-ratelimit-remaining-requests"));
        Assert.Equal("30s", Header(first, "x-ratelimit-reset-requests"));
        using var second = await ChatAsync(client);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);

        using var refused = await ChatAsync(client);
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        var error = await ErrorEnvelope.ReadAsync(refused);
        Assert.Equal("rate_limit_exceeded", error.Code);
        Assert.Equal("requests", error.Type);
        Assert.Contains("alice", error.Message);
        Assert.Equal(TimeSpan.FromSeconds(30), refused.Headers.RetryAfter?.Delta);
        Assert.Equal("0", Header(refused, "x-ratelimit-remaining-requests"));
        Assert.Equal("1m0s", Header(refused, "x-ratelimit-reset-requests"));
        Assert.False(refused.Headers.Contains("x-ratelimit-limit-tokens"));

        // Another key has its own budget.
        using var bob = await ChatAsync(client, ApiKeyTests.OtherKey);
        Assert.Equal(HttpStatusCode.OK, bob.StatusCode);

        _clock.Advance(TimeSpan.FromSeconds(30));
        using var recovered = await ChatAsync(client);
        Assert.Equal(HttpStatusCode.OK, recovered.StatusCode);
        Assert.Equal("0", Header(recovered, "x-ratelimit-remaining-requests"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task The_token_budget_reserves_prompt_and_max_tokens_is_charged_the_reply_usage_then_429_until_it_refills(bool stream)
    {
        await using var app = Serve(tokensPerMinute: 15);
        using var client = app.CreateClient();

        // Reserves 8 (a prompt of about 5 and max_tokens 3), then is charged its usage, 10: 5 left.
        using var first = await ChatAsync(client, stream: stream, maxTokens: 3);
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal("15", Header(first, "x-ratelimit-limit-tokens"));
        // A stream's headers go out with its first token, while its 8 are reserved; a whole reply's after it was charged.
        Assert.Equal(stream ? "7" : "5", Header(first, "x-ratelimit-remaining-tokens"));
        Assert.False(first.Headers.Contains("x-ratelimit-limit-requests"));

        using var refused = await ChatAsync(client, stream: stream, maxTokens: 3);
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        var error = await ErrorEnvelope.ReadAsync(refused);
        Assert.Equal(("rate_limit_exceeded", "tokens"), (error.Code, error.Type));
        Assert.Contains("reserves 8", error.Message);
        // From 5 to 8 tokens at 15 a minute: 12 s.
        Assert.Equal(TimeSpan.FromSeconds(12), refused.Headers.RetryAfter?.Delta);
        Assert.Equal("5", Header(refused, "x-ratelimit-remaining-tokens"));

        _clock.Advance(TimeSpan.FromSeconds(11));
        using var stillRefused = await ChatAsync(client, stream: stream, maxTokens: 3);
        Assert.Equal(HttpStatusCode.TooManyRequests, stillRefused.StatusCode);

        _clock.Advance(TimeSpan.FromSeconds(1));
        using var recovered = await ChatAsync(client, stream: stream, maxTokens: 3);
        Assert.Equal(HttpStatusCode.OK, recovered.StatusCode);
    }

    [Fact]
    public async Task A_request_larger_than_the_whole_token_budget_waits_for_a_full_one_and_may_overdraw_it()
    {
        await using var app = Serve(tokensPerMinute: 15);
        using var client = app.CreateClient();

        // No max_tokens: it reserves LlmStack:Auth:ReservedOutputTokens, more than 15, so it needs the whole budget.
        using var first = await ChatAsync(client);
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal("5", Header(first, "x-ratelimit-remaining-tokens"));

        using var refused = await ChatAsync(client);
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        // From 5 to the whole 15 at 15 a minute: 40 s.
        Assert.Equal(TimeSpan.FromSeconds(40), refused.Headers.RetryAfter?.Delta);
    }
}
