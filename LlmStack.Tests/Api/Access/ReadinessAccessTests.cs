using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using LlmStack.Api.Configuration;
using LlmStack.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace LlmStack.Tests.Api.Access;

/// <summary>
/// <c>/readyz</c> on an API with keys: a stranger learns whether it is ready and nothing else (no backend address, no
/// model names, no upstream error text), a caller with a key learns why, so does the log - and however often anyone
/// asks, the backends are probed at most once per few seconds.
/// </summary>
public sealed class ReadinessAccessTests : IAsyncLifetime
{
    private const string Key = "sk-readiness-0123456789abcdef";
    private const string MissingModel = "missing:7b";

    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private readonly CapturedLogs _logs = new();
    private OllamaTestServer _ollama = null!;
    private ApiApplication _api = null!;

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _ollama = await OllamaTestServer.StartAsync("present:1b");
        var settings = ApiKeyTests.Keys((Key, "operator"));
        _api = new ApiApplication(
            [new ModelOptions { Id = MissingModel, Backend = "ollama", Endpoint = _ollama.Endpoint.AbsoluteUri }],
            settings,
            services =>
            {
                services.AddSingleton<TimeProvider>(_time);
                services.AddLogging(logging => logging.AddProvider(_logs));
            });
        _ = _api.BaseAddress;
    }

    [Fact]
    public async Task An_anonymous_caller_gets_the_status_alone_and_a_keyed_one_the_reasons()
    {
        using var client = _api.CreateClient();

        using var anonymous = await client.GetAsync("/readyz", Cancel);
        var anonymousBody = await anonymous.Content.ReadAsStringAsync(Cancel);
        using var keyed = await client.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/readyz")
        {
            Headers = { Authorization = new AuthenticationHeaderValue("Bearer", Key) },
        }, Cancel);
        var keyedBody = await keyed.Content.ReadAsStringAsync(Cancel);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, anonymous.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(5), anonymous.Headers.RetryAfter?.Delta);
        var report = JsonNode.Parse(anonymousBody)!.AsObject();
        Assert.Equal(["error", "status"], report.Select(p => p.Key).Order());
        Assert.Equal("Unhealthy", (string?)report["status"]);
        Assert.Equal("not_ready", (string?)report["error"]!["code"]);
        Assert.Equal("Not ready yet. Retry later.", (string?)report["error"]!["message"]);
        Assert.DoesNotContain(_ollama.Endpoint.Authority, anonymousBody, StringComparison.Ordinal);
        Assert.DoesNotContain(MissingModel, anonymousBody, StringComparison.Ordinal);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, keyed.StatusCode);
        Assert.Contains($"model {MissingModel} is not pulled yet at {_ollama.Endpoint.AbsoluteUri.TrimEnd('/')}", keyedBody, StringComparison.Ordinal);
        Assert.NotNull(JsonNode.Parse(keyedBody)!["checks"]);

        // The operator reads the same reasons in the log, once, without a key.
        var logged = await _logs.WaitForAsync("Microsoft.Extensions.Hosting.Readiness", TimeSpan.FromSeconds(10));
        Assert.Contains($"model {MissingModel} is not pulled yet", logged.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_flood_of_readiness_requests_probes_the_backend_once_per_few_seconds()
    {
        using var client = _api.CreateClient();
        // The API asked Ollama about the model once at start (its context length).
        var before = _ollama.RequestsFor("/api/show", MissingModel).Count;

        var answers = await Task.WhenAll(Enumerable.Range(0, 50).Select(async _ =>
        {
            using var response = await client.GetAsync("/readyz", Cancel);
            return response.StatusCode;
        }));
        Assert.All(answers, status => Assert.Equal(HttpStatusCode.ServiceUnavailable, status));
        Assert.Equal(before + 1, _ollama.RequestsFor("/api/show", MissingModel).Count);

        // Once the model is there, the next probe after the cache has run out sees it.
        _ollama.AddModel(MissingModel);
        _time.Advance(TimeSpan.FromSeconds(2));
        using (var cached = await client.GetAsync("/readyz", Cancel))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, cached.StatusCode);
        }
        _time.Advance(TimeSpan.FromSeconds(2));
        using var fresh = await client.GetAsync("/readyz", Cancel);
        Assert.Equal(HttpStatusCode.OK, fresh.StatusCode);
        Assert.Equal(before + 2, _ollama.RequestsFor("/api/show", MissingModel).Count);
    }

    public async ValueTask DisposeAsync()
    {
        await _api.DisposeAsync();
        await _ollama.DisposeAsync();
        _logs.Dispose();
    }
}
