using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using LlmStack.Tests.Fixtures;

namespace LlmStack.Tests.Containers;

/// <summary>
/// The compose project published with <c>Api:Replicas=2</c>, brought up for real (embedded profile): two API replicas and
/// the Redis they share. A client sends to both - each through a host port of its own (the tests' override publishes
/// the second) - and one key's budget holds across them; a response stored through one is continued through the other.
/// </summary>
[Collection(ContainerTests.Collection)]
public sealed class ComposeReplicaStackTests(ReplicaComposeStack replicas) : IClassFixture<ReplicaComposeStack>
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Both_replicas_serve_and_one_key_s_budget_holds_across_them()
    {
        SkipWithoutEngine();
        await ComposeStack.WaitUntilReadyAsync(replicas.Second);
        using var first = Client(replicas.Stack.Api, replicas.BudgetKey);
        using var second = Client(replicas.Second, replicas.BudgetKey);
        HttpClient[] clients = [first, second];

        var served = new int[2];
        var refused = new int[2];
        var started = DateTime.UtcNow;
        for (var i = 0; i < 2 * ReplicaComposeStack.RequestsPerMinute; i++)
        {
            using var response = await clients[i % 2].GetAsync("/v1/models", Cancel);
            Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.TooManyRequests, $"replica {i % 2 + 1}: {response.StatusCode}");
            (response.StatusCode == HttpStatusCode.OK ? served : refused)[i % 2]++;
        }
        var elapsed = DateTime.UtcNow - started;

        // Both served, and together about the one budget: two budgets of their own would have served all twenty.
        Assert.All(served, count => Assert.True(count > 0, $"a replica served nothing: {string.Join('/', served)}"));
        Assert.All(refused, count => Assert.True(count > 0, $"a replica refused nothing: {string.Join('/', refused)}"));
        // The budget refills continuously (10 a minute: one every 6 s), so a slow run may have earned a few more.
        var refilled = (int)(elapsed.TotalMinutes * ReplicaComposeStack.RequestsPerMinute);
        Assert.InRange(served.Sum(), ReplicaComposeStack.RequestsPerMinute, ReplicaComposeStack.RequestsPerMinute + refilled + 1);
    }

    [Fact]
    public async Task A_response_stored_through_one_replica_is_continued_through_the_other()
    {
        SkipWithoutEngine();
        await ComposeStack.WaitUntilReadyAsync(replicas.Second);
        using var first = Client(replicas.Stack.Api, replicas.Stack.ApiKey);
        using var second = Client(replicas.Second, replicas.Stack.ApiKey);

        using var created = await first.PostAsync("/v1/responses", Json("""{"model":"llmstack-demo","max_output_tokens":8,"input":"Hi"}"""), Cancel);
        Assert.Equal(HttpStatusCode.OK, created.StatusCode);
        var id = JsonDocument.Parse(await created.Content.ReadAsStringAsync(Cancel)).RootElement.GetProperty("id").GetString();

        using var continued = await second.PostAsync("/v1/responses",
            Json($$"""{"model":"llmstack-demo","max_output_tokens":8,"previous_response_id":"{{id}}","input":"And then?"}"""), Cancel);
        var body = await continued.Content.ReadAsStringAsync(Cancel);

        Assert.True(continued.StatusCode == HttpStatusCode.OK, body);
        Assert.Equal(id, JsonDocument.Parse(body).RootElement.GetProperty("previous_response_id").GetString());
    }

    private void SkipWithoutEngine()
    {
        if (replicas.Stack.UnavailableReason is { } reason)
        {
            Assert.Skip(reason);
        }
    }

    private static HttpClient Client(Uri api, string key)
    {
        var client = new HttpClient { BaseAddress = api, Timeout = TimeSpan.FromMinutes(2) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");
}

/// <summary>The replica stack, up once for the class: Redis and the embedded profile's two API replicas.</summary>
public sealed class ReplicaComposeStack : IAsyncLifetime
{
    public const int RequestsPerMinute = 10;

    private static readonly string[] Services = ["redis", "api-embedded-1", "api-embedded-2"];

    public ReplicaComposeStack()
    {
        // The published file gives the replicas the stack's key only: a key with a request budget on both, and the
        // second replica on a host port of its own (only the first publishes one).
        var budget = new Dictionary<string, string>
        {
            ["LlmStack__Auth__Keys__1__Key"] = BudgetKey,
            ["LlmStack__Auth__Keys__1__Name"] = "budget",
            ["LlmStack__Auth__Keys__1__RequestsPerMinute"] = $"{RequestsPerMinute}",
        };
        Stack = new ComposeStack(ComposeStack.EmbeddedProfile, Services, jobs: [],
            // The password the published .env asks for, as a user sets it.
            new Dictionary<string, string> { ["REDIS_PASSWORD"] = $"redis-{Guid.NewGuid():N}" },
            new Dictionary<string, IReadOnlyDictionary<string, string>> { ["api-embedded-1"] = budget, ["api-embedded-2"] = budget },
            waitUntilReady: true, new PublishedReplicaCompose(),
            new Dictionary<string, IReadOnlyList<string>> { ["api-embedded-2"] = [$"127.0.0.1:{Second.Port}:8080"] });
    }

    public ComposeStack Stack { get; }

    /// <summary>The second replica's host port (the first has the published one, <see cref="ComposeStack.Api"/>).</summary>
    public Uri Second { get; } = ComposeStack.FreeLoopbackAddress();

    /// <summary>A key with <see cref="RequestsPerMinute"/> requests a minute.</summary>
    public string BudgetKey { get; } = $"budget-{Guid.NewGuid():N}";

    public ValueTask InitializeAsync() => Stack.InitializeAsync();

    public ValueTask DisposeAsync() => Stack.DisposeAsync();
}
