using System.Net;
using System.Text;
using LlmStack.Api.Configuration;
using LlmStack.Api.Limits;
using LlmStack.Api.Pipeline;
using LlmStack.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;

namespace LlmStack.Tests.Api.Limits;

/// <summary>The per-model admission bound over real HTTP: who waits, who is refused, and that the admitted finish.</summary>
public sealed class AdmissionTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    internal static ApiApplication Serve(HeldModel model, int maxConcurrent, int maxQueue, TimeSpan? queueTimeout = null, Dictionary<string, string?>? settings = null)
    {
        settings ??= [];
        settings["LlmStack:Models:0:MaxConcurrentRequests"] = maxConcurrent.ToString(System.Globalization.CultureInfo.InvariantCulture);
        settings["LlmStack:Models:0:MaxQueue"] = maxQueue.ToString(System.Globalization.CultureInfo.InvariantCulture);
        settings["LlmStack:Models:0:QueueTimeout"] = (queueTimeout ?? TimeSpan.FromMinutes(5)).ToString();
        return InMemoryBackend.Serve(settings, ("held", model.Client));
    }

    internal static Task<HttpResponseMessage> ChatAsync(HttpClient client, bool stream = false) =>
        client.PostAsync("/v1/chat/completions", new StringContent(
            $$"""{"model":"held","stream":{{(stream ? "true" : "false")}},"messages":[{"role":"user","content":"Hi"}]}""", Encoding.UTF8, "application/json"), Cancel);

    internal static AdmissionGate Gate(ApiApplication app, string model = "held")
    {
        var catalog = app.Services.GetRequiredService<ModelCatalog>();
        Assert.True(catalog.TryGet(model, out var pipeline));
        return app.Services.GetRequiredService<ModelAdmission>().For(pipeline.Model);
    }

    internal static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        using var deadline = new CancellationTokenSource(Bound);
        while (!condition())
        {
            try
            {
                await Task.Delay(10, deadline.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"Not within {Bound.TotalSeconds} s: {what}");
            }
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Beyond_slots_and_queue_a_request_gets_503_with_retry_after_at_once_while_the_admitted_complete(bool stream)
    {
        var model = new HeldModel();
        await using var app = Serve(model, maxConcurrent: 2, maxQueue: 1);
        using var client = app.CreateClient();
        var gate = Gate(app);

        var admitted = new[] { ChatAsync(client, stream), ChatAsync(client, stream) };
        await WaitUntilAsync(() => model.Started == 2, "two requests reach the model");
        var queued = ChatAsync(client, stream);
        await WaitUntilAsync(() => gate.Queued == 1, "one request waits");

        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        using var refused = await ChatAsync(client, stream);
        var refusedAfter = System.Diagnostics.Stopwatch.GetElapsedTime(started);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        var error = await ErrorEnvelope.ReadAsync(refused);
        Assert.Equal("model_overloaded", error.Code);
        Assert.Contains("overloaded", error.Message);
        Assert.Contains("MaxQueue", error.Message);
        Assert.True(refused.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1));
        Assert.True(refusedAfter < TimeSpan.FromSeconds(5), $"refused after {refusedAfter}");
        Assert.Equal(2, model.Started);

        model.Release();
        foreach (var response in await Task.WhenAll([.. admitted, queued]).WaitAsync(Bound, Cancel))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Contains("Hello", await response.Content.ReadAsStringAsync(Cancel));
            response.Dispose();
        }
        Assert.Equal(3, model.Started);
        Assert.Equal((0, 0), (gate.Admitted, gate.Queued));
    }

    [Fact]
    public async Task A_request_that_waits_longer_than_the_queue_timeout_gets_503()
    {
        var model = new HeldModel();
        await using var app = Serve(model, maxConcurrent: 1, maxQueue: 4, queueTimeout: TimeSpan.FromMilliseconds(300));
        using var client = app.CreateClient();

        var admitted = ChatAsync(client);
        await WaitUntilAsync(() => model.Started == 1, "the first request reaches the model");
        using var timedOut = await ChatAsync(client);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, timedOut.StatusCode);
        var error = await ErrorEnvelope.ReadAsync(timedOut);
        Assert.Equal("model_overloaded", error.Code);
        Assert.Contains("QueueTimeout", error.Message);
        Assert.NotNull(timedOut.Headers.RetryAfter);

        model.Release();
        using var first = await admitted.WaitAsync(Bound, Cancel);
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(1, model.Started);
    }

    [Fact]
    public async Task A_client_that_leaves_the_queue_frees_its_place()
    {
        var model = new HeldModel();
        await using var app = Serve(model, maxConcurrent: 1, maxQueue: 1);
        using var client = app.CreateClient();
        var gate = Gate(app);

        var admitted = ChatAsync(client);
        await WaitUntilAsync(() => model.Started == 1, "the first request reaches the model");
        using (var leaving = new HttpClient { BaseAddress = app.BaseAddress })
        using (var cancel = new CancellationTokenSource())
        {
            var waiting = leaving.PostAsync("/v1/chat/completions", new StringContent(
                """{"model":"held","messages":[{"role":"user","content":"Hi"}]}""", Encoding.UTF8, "application/json"), cancel.Token);
            await WaitUntilAsync(() => gate.Queued == 1, "the second request waits");
            await cancel.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        }
        await WaitUntilAsync(() => gate.Queued == 0, "the abandoned request leaves the queue");

        var third = ChatAsync(client);
        await WaitUntilAsync(() => gate.Queued == 1, "a new request takes the free place");
        model.Release();
        using var first = await admitted.WaitAsync(Bound, Cancel);
        using var last = await third.WaitAsync(Bound, Cancel);
        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.OK), (first.StatusCode, last.StatusCode));
        Assert.Equal(2, model.Started);
    }

    [Fact]
    public async Task Embeddings_pass_the_same_gate()
    {
        var model = new HeldModel();
        model.Client.Embeddings = new HashEmbeddingGenerator();
        await using var app = Serve(model, maxConcurrent: 1, maxQueue: 0);
        using var client = app.CreateClient();

        var admitted = ChatAsync(client);
        await WaitUntilAsync(() => model.Started == 1, "a chat holds the only slot");
        using var refused = await client.PostAsync("/v1/embeddings", new StringContent(
            """{"model":"held","input":"hello"}""", Encoding.UTF8, "application/json"), Cancel);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Equal("model_overloaded", (await ErrorEnvelope.ReadAsync(refused)).Code);
        model.Release();
        (await admitted.WaitAsync(Bound, Cancel)).Dispose();
        using var embedded = await client.PostAsync("/v1/embeddings", new StringContent(
            """{"model":"held","input":"hello"}""", Encoding.UTF8, "application/json"), Cancel);
        Assert.Equal(HttpStatusCode.OK, embedded.StatusCode);
    }

    [Fact]
    public async Task Bad_admission_settings_stop_the_API_at_start_naming_the_key()
    {
        await using var app = Serve(new HeldModel(), maxConcurrent: 0, maxQueue: -1, queueTimeout: TimeSpan.Zero);

        var failure = Assert.ThrowsAny<Exception>(() => app.BaseAddress).ToString();

        Assert.Contains("LlmStack:Models:0:MaxConcurrentRequests", failure);
        Assert.Contains("LlmStack:Models:0:MaxQueue", failure);
        Assert.Contains("LlmStack:Models:0:QueueTimeout", failure);
    }
}
