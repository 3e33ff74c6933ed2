using System.Net.Http.Headers;
using System.Text;
using LlmStack.Api.Configuration;
using LlmStack.Api.Pipeline;
using LlmStack.Tests.Api.Access;
using LlmStack.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;
using LlmStack.Api.Limits;
using Microsoft.Extensions.Hosting.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using static LlmStack.Tests.Fixtures.PrometheusText;

namespace LlmStack.Tests.Api;

/// <summary>What Prometheus scrapes from <c>/metrics</c> after real requests.</summary>
/// <remarks>
/// Run alone: OpenTelemetry aggregates the same-named instruments of every API host in the test process into
/// one stream, and drops that stream when any of those hosts stops - a test host stopping in parallel would
/// take this test's series with it. (One API per process, as in production, has neither effect.)
/// </remarks>
[Collection(nameof(MetricsTests))]
public sealed class MetricsTests(GeneratedModels models)
{
    private const int Requests = 5;

    // OpenTelemetry listens to meters by name process-wide, so APIs of tests running in parallel feed every
    // /metrics: a model id of its own keeps each test's series apart.
    private const string Model = "metrics-scripted";

    private const string ModelLabel = $"gen_ai_request_model=\"{Model}\"";

    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task After_N_requests_the_histograms_count_N()
    {
        await using var app = new ApiApplication([new ModelOptions { Id = Model, Backend = "embedded", Path = models.Scripted }]);
        using var client = app.CreateClient();

        for (var i = 0; i < Requests; i++)
        {
            using var response = await client.PostAsync("/v1/chat/completions", new StringContent(
                """{"model":"metrics-scripted","stream":true,"messages":[{"role":"user","content":"Hi!"}]}""", Encoding.UTF8, "application/json"), Cancel);
            Assert.EndsWith("data: [DONE]\n\n", await response.Content.ReadAsStringAsync(Cancel));
        }
        var metrics = await ScrapeWhenAsync(client, m => Sum(m, "gen_ai_server_request_duration_seconds_count", ModelLabel) == Requests, Bound);

        Assert.Equal(Requests, Sum(metrics, "gen_ai_server_time_to_first_token_seconds_count", ModelLabel));
        Assert.Equal(Requests, Sum(metrics, "gen_ai_server_time_per_output_token_seconds_count", ModelLabel));
        Assert.Equal(Requests, Sum(metrics, "gen_ai_server_request_duration_seconds_count", ModelLabel, "llmstack_response_finish_reason=\"stop\""));
        Assert.Equal(Requests, Sum(metrics, "gen_ai_server_token_usage_count", ModelLabel, "gen_ai_token_type=\"output\""));
        Assert.Equal(Requests * GeneratedModels.PiecesOf(GeneratedModels.ScriptedReply).Count, Sum(metrics, "gen_ai_server_token_usage_sum", ModelLabel, "gen_ai_token_type=\"output\""));
        Assert.Equal(0, Sum(metrics, "llmstack_requests_active", ModelLabel));
        Assert.Contains("gen_ai_operation_name=\"chat\"", metrics);
        // The server's figures and Microsoft.Extensions.AI's client figures of the pipeline below are two families,
        // each declared once: nothing collides, nothing is dropped.
        Assert.Single(metrics.Split('\n'), line => line.StartsWith("# TYPE gen_ai_server_token_usage ", StringComparison.Ordinal));
        Assert.Single(metrics.Split('\n'), line => line.StartsWith("# TYPE gen_ai_client_token_usage ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Requests_refused_before_a_model_is_chosen_count_by_error_type_under_one_fixed_model_value()
    {
        await using var app = new ApiApplication([new ModelOptions { Id = Model, Backend = "embedded", Path = models.Scripted }]);
        using var client = app.CreateClient();
        const string none = "gen_ai_request_model=\"(none)\"";
        const string chat = "gen_ai_operation_name=\"chat\"";
        var before = await client.GetStringAsync("/metrics", Cancel);
        var unknownBefore = Sum(before, "gen_ai_server_request_duration_seconds_count", none, chat, "error_type=\"model_not_found\"");
        var total = Sum(before, "gen_ai_server_request_duration_seconds_count", none);

        foreach (var body in new[] { """{"model":"no-such-model-1","messages":[{"role":"user","content":"Hi"}]}""", """{"model":"no-such-model-2","messages":[{"role":"user","content":"Hi"}]}""", "{not json" })
        {
            using var response = await client.PostAsync("/v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"), Cancel);
            Assert.True((int)response.StatusCode is 400 or 404, $"{(int)response.StatusCode} for {body}");
        }
        var metrics = await ScrapeWhenAsync(client, m => Sum(m, "gen_ai_server_request_duration_seconds_count", none) == total + 3, Bound);

        Assert.Equal(unknownBefore + 2, Sum(metrics, "gen_ai_server_request_duration_seconds_count", none, chat, "error_type=\"model_not_found\""));
        // The requested names never become label values, and these series carry no provider.
        Assert.DoesNotContain("no-such-model", metrics);
        Assert.DoesNotContain(metrics.Split('\n'), line => line.StartsWith("gen_ai_server_request_duration_seconds", StringComparison.Ordinal) && line.Contains(none, StringComparison.Ordinal) && line.Contains("gen_ai_provider_name", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Refusals_before_the_endpoint_runs_count_by_error_type_under_the_fixed_model_value()
    {
        const string none = "gen_ai_request_model=\"(none)\"";
        const string chat = "gen_ai_operation_name=\"chat\"";
        const string duration = "gen_ai_server_request_duration_seconds_count";
        var settings = ApiKeyTests.Keys((ApiKeyTests.Key, "metered"));
        settings["LlmStack:Auth:Keys:0:RequestsPerMinute"] = "1";
        // The drain follows a lifetime of the test's own, so that the server drains without stopping its listener
        // (a stopping host closes the idle connection a 503 would come back on).
        var lifetime = new ApplicationLifetime(NullLogger<ApplicationLifetime>.Instance);
        await using var app = InMemoryBackend.Serve(settings, services => services.AddSingleton(sp => new ServerDrain(
            lifetime, sp.GetRequiredService<IOptions<LlmStackOptions>>(), sp.GetRequiredService<ILogger<ServerDrain>>())),
            ("metrics-keyed", InMemoryChatClient.Replying(["Hello"])));
        using var client = app.CreateClient();
        using var measured = new RequestDurations(app.Services);
        var before = await client.GetStringAsync("/metrics", Cancel);
        var counts = new[] { "invalid_api_key", "rate_limit_exceeded" }.ToDictionary(
            code => code, code => Sum(before, duration, none, chat, $"error_type=\"{code}\""));
        var total = Sum(before, duration, none);

        using (var unauthorized = await SendAsync(client, key: null))
        using (var served = await SendAsync(client, ApiKeyTests.Key))
        using (var spent = await SendAsync(client, ApiKeyTests.Key))
        {
            // The key's one request a minute went to the second.
            Assert.Equal([401, 200, 429], new[] { unauthorized, served, spent }.Select(r => (int)r.StatusCode));
        }
        var metrics = await ScrapeWhenAsync(client, m => Sum(m, duration, none) == total + 2, Bound);

        foreach (var (code, count) in counts)
        {
            Assert.Equal(count + 1, Sum(metrics, duration, none, chat, $"error_type=\"{code}\""));
        }
        // The request that was served counts under its model, with no error.
        Assert.Equal(1, Sum(metrics, duration, "gen_ai_request_model=\"metrics-keyed\"", chat));

        // Draining refuses /metrics too, so this one is read from the instrument itself.
        lifetime.StopApplication();
        using var draining = await SendAsync(client, ApiKeyTests.Key);
        Assert.Equal(503, (int)draining.StatusCode);
        Assert.Equal("server_shutting_down", (await ErrorEnvelope.ReadAsync(draining)).Code);
        await measured.WaitUntilAsync(m => m.Count(d => d.ErrorType is not null) == 3, Bound);

        Assert.Equal(
            ["invalid_api_key", "rate_limit_exceeded", "server_shutting_down"],
            measured.Recorded.Where(d => d.ErrorType is not null).Select(d => d.ErrorType).Order());
        Assert.All(measured.Recorded.Where(d => d.ErrorType is not null), d => Assert.Equal(("(none)", "chat"), (d.Model, d.Operation)));
    }

    private static Task<HttpResponseMessage> SendAsync(HttpClient client, string? key)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent("""{"model":"metrics-keyed","messages":[{"role":"user","content":"Hi"}]}""", Encoding.UTF8, "application/json"),
        };
        if (key is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }
        return client.SendAsync(request, Cancel);
    }

    [Fact]
    public async Task Embeddings_show_duration_usage_and_errors_by_type()
    {
        const string embedder = "metrics-embedder";
        const string label = $"gen_ai_request_model=\"{embedder}\"";
        await using var app = new ApiApplication([new ModelOptions { Id = embedder, Backend = "embedded", Path = models.Random }]);
        using var client = app.CreateClient();

        using var embedded = await client.PostAsync("/v1/embeddings", new StringContent(
            """{"model":"metrics-embedder","input":["hello world","good night"]}""", Encoding.UTF8, "application/json"), Cancel);
        embedded.EnsureSuccessStatusCode();
        using var refused = await client.PostAsync("/v1/embeddings", new StringContent(
            """{"model":"metrics-embedder","input":[]}""", Encoding.UTF8, "application/json"), Cancel);
        Assert.Equal(400, (int)refused.StatusCode);
        var metrics = await ScrapeWhenAsync(client, m => Sum(m, "gen_ai_server_request_duration_seconds_count", label) == 2, Bound);

        const string embeddings = "gen_ai_operation_name=\"embeddings\"";
        Assert.Equal(1, Sum(metrics, "gen_ai_server_request_duration_seconds_count", label, embeddings, "error_type=\"invalid_value\""));
        Assert.Equal(1, Sum(metrics, "gen_ai_server_token_usage_count", label, embeddings, "gen_ai_token_type=\"input\""));
        Assert.True(Sum(metrics, "gen_ai_server_token_usage_sum", label, embeddings, "gen_ai_token_type=\"input\"") >= 4);
        Assert.Equal(0, Sum(metrics, "llmstack_requests_active", label));
        // Admitted once, by the model's admission gate: its queue is counted once.
        Assert.Equal(1, Sum(metrics, "llmstack_request_queue_time_seconds_count", label));
        // Traced and measured by Microsoft.Extensions.AI too, like chat.
        Assert.True(Sum(metrics, "gen_ai_client_operation_duration_seconds_count", embeddings) >= 1);
    }

    [Fact]
    public async Task Prefix_cache_counts_tokens_found_live_and_in_host_memory_and_what_host_memory_holds()
    {
        const string model = "prefix-cache-scripted";
        const string label = $"gen_ai_request_model=\"{model}\"";
        // One sequence: B takes A's, A comes back from host memory.
        await using var app = new ApiApplication([new ModelOptions { Id = model, Backend = "embedded", Path = models.Scripted, Embedded = new() { ParallelSlots = 1 } }]);
        using var client = app.CreateClient();
        var a = """{"role":"user","content":"Conversation A starts"}""";
        var reply = $$"""{"role":"assistant","content":"{{GeneratedModels.ScriptedReply}}"}""";

        foreach (var messages in new[] { a, """{"role":"user","content":"Conversation B starts"}""", $$"""{{a}},{{reply}},{"role":"user","content":"A again"}""" })
        {
            using var response = await client.PostAsync("/v1/chat/completions", new StringContent(
                $$"""{"model":"{{model}}","messages":[{{messages}}]}""", Encoding.UTF8, "application/json"), Cancel);
            response.EnsureSuccessStatusCode();
        }
        var metrics = await ScrapeWhenAsync(client, m => Sum(m, "llmstack_prefix_cache_hits_total", label, "llmstack_cache_tier=\"host\"") > 0, Bound);

        Assert.True(Sum(metrics, "llmstack_prefix_cache_misses_total", label) > 0);
        Assert.Equal(2, Sum(metrics, "llmstack_prefix_cache_evictions_total", label, "llmstack_cache_tier=\"kv\""));
        Assert.Equal(0, Sum(metrics, "llmstack_prefix_cache_evictions_total", label, "llmstack_cache_tier=\"host\""));
        // B is saved now (A went back into the sequence).
        Assert.Equal(1, Sum(metrics, "llmstack_prefix_cache_entries", label));
        Assert.True(Sum(metrics, "llmstack_prefix_cache_bytes", label) > 0);
    }

    [Fact]
    public async Task Queue_and_activity_gauges_and_rejection_counters_exist_at_0_before_the_first_request()
    {
        const string model = "gauges-scripted";
        await using var app = new ApiApplication([new ModelOptions { Id = model, Backend = "embedded", Path = models.Scripted }]);
        using var client = app.CreateClient();

        var metrics = await client.GetStringAsync("/metrics", Cancel);

        foreach (var gauge in new[] { "llmstack_requests_queued", "llmstack_requests_active" })
        {
            var values = Values(metrics, gauge, $"gen_ai_request_model=\"{model}\"");
            Assert.NotEmpty(values);
            Assert.All(values, value => Assert.Equal(0.0, value));
        }
        foreach (var reason in new[] { "auth", "rate", "queue_full", "queue_timeout", "draining" })
        {
            Assert.Contains(0.0, Values(metrics, "llmstack_requests_rejected_total", $"llmstack_rejection_reason=\"{reason}\""));
        }
    }
}

[CollectionDefinition(nameof(MetricsTests), DisableParallelization = true)]
public sealed class MetricsTestsCollection;
