extern alias bench;

using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using bench::LlmStack.Benchmarks.Hosting;
using LlmStack.Tests.Fixtures;

namespace LlmStack.Tests.Api.Access;

/// <summary>
/// Two API processes and a real Redis (started by the test): the keys' budgets and the stored responses are one for
/// both replicas, and a Redis that stops answering fails the budgets closed.
/// </summary>
public sealed class SharedBudgetTests
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private const string Requests = ApiKeyTests.Key;
    private const string Tokens = ApiKeyTests.OtherKey;
    private const string Unlimited = "sk-test-carol-0123456789";

    // alice: 10 requests a minute; bob: 200 tokens a minute. No models configured: each API serves its built-in demo model.
    private static Dictionary<string, string> Settings(RedisServer redis) => new Dictionary<string, string>
    {
        ["LlmStack:Auth:Keys:0:Key"] = Requests,
        ["LlmStack:Auth:Keys:0:Name"] = "alice",
        ["LlmStack:Auth:Keys:0:RequestsPerMinute"] = "10",
        ["LlmStack:Auth:Keys:1:Key"] = Tokens,
        ["LlmStack:Auth:Keys:1:Name"] = "bob",
        ["LlmStack:Auth:Keys:1:TokensPerMinute"] = "200",
        ["LlmStack:Auth:Keys:2:Key"] = Unlimited,
        ["LlmStack:Auth:Keys:2:Name"] = "carol",
        ["LlmStack:Auth:Redis"] = redis.ConnectionString,
        ["LlmStack:Responses:Redis"] = redis.ConnectionString,
    }.ToDictionary(setting => setting.Key.Replace(":", "__", StringComparison.Ordinal), setting => setting.Value);

    private static HttpClient Client(ApiProcess api, string key) => new()
    {
        BaseAddress = api.BaseAddress,
        Timeout = TimeSpan.FromSeconds(60),
        DefaultRequestHeaders = { Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key) },
    };

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    private static async Task<(HttpStatusCode Status, JsonElement Body)> PostAsync(HttpClient client, string path, string body)
    {
        using var response = await client.PostAsync(path, Json(body), Cancel);
        var text = await response.Content.ReadAsStringAsync(Cancel);
        return (response.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
    }

    private static long RemainingTokens(HttpResponseMessage response) =>
        long.Parse(response.Headers.GetValues("x-ratelimit-remaining-tokens").Single(), CultureInfo.InvariantCulture);

    [Fact]
    public async Task Two_replicas_share_one_budget_and_one_response_store_and_fail_closed_without_redis()
    {
        using var redis = await RedisServer.StartAsync(Cancel);
        await using var first = await ApiProcess.StartAsync(Settings(redis), waitUntilReady: true, Cancel);
        await using var second = await ApiProcess.StartAsync(Settings(redis), waitUntilReady: true, Cancel);
        HttpClient[] alice = [Client(first, Requests), Client(second, Requests)];
        HttpClient[] bob = [Client(first, Tokens), Client(second, Tokens)];

        // 10 requests a minute: 10 in total across both replicas, not 20. The budget refills continuously (one request
        // every 6 s, by Redis's clock, in one atomic script), so a slow run earns what refilled while it ran - and no more.
        var served = 0;
        var started = Stopwatch.GetTimestamp();
        for (var i = 0; i < 20; i++)
        {
            using var response = await alice[i % 2].GetAsync("/v1/models", Cancel);
            Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.TooManyRequests, $"{response.StatusCode}");
            served += response.StatusCode == HttpStatusCode.OK ? 1 : 0;
        }
        var refilled = (int)(Stopwatch.GetElapsedTime(started).TotalMinutes * 10);
        Assert.InRange(served, 10, 10 + refilled);

        // 200 tokens a minute: what one replica spends, the other cannot.
        const string chat = """{"model":"llmstack-demo","max_tokens":8,"messages":[{"role":"user","content":"Hi"}]}""";
        long charged = 0;
        long left;
        while (true)
        {
            using var response = await bob[0].PostAsync("/v1/chat/completions", Json(chat), Cancel);
            var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Cancel)).RootElement;
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                Assert.Equal("rate_limit_exceeded", body.GetProperty("error").GetProperty("code").GetString());
                left = RemainingTokens(response);
                break;
            }
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            charged += body.GetProperty("usage").GetProperty("total_tokens").GetInt64();
            Assert.True(charged < 1000, "the token budget never ran out");
        }
        // About the minute's 200 (refilling at 3.3 a second while the replies ran), not the 400 of two separate budgets.
        Assert.InRange(charged, 150, 280);
        using (var other = await bob[1].GetAsync("/v1/models", Cancel))
        {
            // The other replica sees the same nearly spent budget (plus what refilled meanwhile), not a full one; it may
            // be overdrawn, and then this is refused too.
            Assert.True(other.StatusCode is HttpStatusCode.OK or HttpStatusCode.TooManyRequests, $"{other.StatusCode}");
            Assert.InRange(RemainingTokens(other), left, left + 10);
        }

        // A response stored through one replica is read and continued through the other (carol has no budget).
        HttpClient[] carol = [Client(first, Unlimited), Client(second, Unlimited)];
        var (createdStatus, created) = await PostAsync(carol[0], "/v1/responses", """{"model":"llmstack-demo","max_output_tokens":8,"input":"Hi"}""");
        Assert.Equal(HttpStatusCode.OK, createdStatus);
        var id = created.GetProperty("id").GetString();
        using (var read = await carol[1].GetAsync($"/v1/responses/{id}", Cancel))
        {
            Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        }
        var (continuedStatus, continued) = await PostAsync(carol[1], "/v1/responses",
            $$"""{"model":"llmstack-demo","max_output_tokens":8,"input":"more","previous_response_id":"{{id}}"}""");
        Assert.Equal(HttpStatusCode.OK, continuedStatus);
        Assert.Equal(id, continued.GetProperty("previous_response_id").GetString());

        // Redis stops: budgets fail closed, with the reason in the error, /readyz and the log.
        redis.Stop();
        var (closedStatus, closed) = await PostAsync(bob[1], "/v1/chat/completions", chat);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, closedStatus);
        Assert.Equal("budget_store_unavailable", closed.GetProperty("error").GetProperty("code").GetString());
        Assert.Contains("Redis at 127.0.0.1:" + redis.Port.ToString(CultureInfo.InvariantCulture), closed.GetProperty("error").GetProperty("message").GetString());
        var deadline = DateTime.UtcNow.AddSeconds(20);
        string readiness;
        while (true)
        {
            using var ready = await bob[1].GetAsync("/readyz", Cancel);
            readiness = await ready.Content.ReadAsStringAsync(Cancel);
            if (ready.StatusCode == HttpStatusCode.ServiceUnavailable)
            {
                break;
            }
            Assert.True(DateTime.UtcNow < deadline, $"/readyz still says: {readiness}");
            await Task.Delay(250, Cancel);
        }
        Assert.Contains("budgets", readiness);
        Assert.Contains("does not answer", readiness);
        Assert.Contains("Budgets cannot be checked", second.Output);

        // And it comes back with Redis.
        await redis.RestartAsync(Cancel);
        deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var (status, _) = await PostAsync(bob[1], "/v1/chat/completions", chat);
            if (status != HttpStatusCode.ServiceUnavailable)
            {
                Assert.True(status is HttpStatusCode.OK or HttpStatusCode.TooManyRequests, $"{status}");
                break;
            }
            Assert.True(DateTime.UtcNow < deadline, "budgets did not come back with Redis");
            await Task.Delay(250, Cancel);
        }
        foreach (var client in alice.Concat(bob).Concat(carol))
        {
            client.Dispose();
        }
    }
}
