using System.Net;
using System.Net.Http.Headers;
using System.Text;
using LlmStack.Api.Access;
using LlmStack.Tests.Api.Access;
using LlmStack.Tests.Fixtures;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace LlmStack.Tests.Api.Limits;

/// <summary>
/// Fairness between API keys over real HTTP: a key's own ceiling on requests in flight, and a model queue that takes
/// keys in turn, so that one key holding every slot never keeps another key's first request waiting behind its backlog.
/// </summary>
public sealed class KeyFairnessTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    /// <summary>A streamed chat of <paramref name="key"/>, answered once its headers are in; the body is not read.</summary>
    internal static async Task<HttpResponseMessage> StreamAsync(HttpClient client, string key, string model, CancellationToken cancellationToken, int? maxTokens = null)
    {
        var limit = maxTokens is { } n ? $",\"max_tokens\":{n}" : "";
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent($$"""{"model":"{{model}}","stream":true,"messages":[{"role":"user","content":"Tell me a story."}]{{limit}}}""", Encoding.UTF8, "application/json"),
            Headers = { Authorization = new AuthenticationHeaderValue("Bearer", key) },
        };
        return await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
    }

    /// <summary>A client of its own whose abandoned responses close their connection at once (a hang-up).</summary>
    internal static HttpClient Client(ApiApplication app) => new(new SocketsHttpHandler { MaxResponseDrainSize = 0 }) { BaseAddress = app.BaseAddress };

    [Fact]
    public async Task A_key_at_its_concurrency_limit_gets_429_at_once_until_one_of_its_requests_has_really_ended()
    {
        var settings = ApiKeyTests.Keys((ApiKeyTests.Key, "alice"), (ApiKeyTests.OtherKey, "bob"));
        settings["LlmStack:Auth:Keys:0:MaxConcurrentRequests"] = "2";
        var model = new SlowToStopModel();
        await using var app = InMemoryBackend.Serve(settings, ("slow", model.Client));
        var alice = app.Services.GetRequiredService<ApiKeyDirectory>().Find(ApiKeyTests.Key)!.Concurrency;
        using var client = Client(app);
        using var leaving = CancellationTokenSource.CreateLinkedTokenSource(Cancel);

        var first = await StreamAsync(client, ApiKeyTests.Key, "slow", leaving.Token).WaitAsync(Bound, Cancel);
        using var second = await StreamAsync(client, ApiKeyTests.Key, "slow", Cancel).WaitAsync(Bound, Cancel);
        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.OK), (first.StatusCode, second.StatusCode));

        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        using var refused = await StreamAsync(client, ApiKeyTests.Key, "slow", Cancel).WaitAsync(Bound, Cancel);
        var refusedAfter = System.Diagnostics.Stopwatch.GetElapsedTime(started);
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        var error = await ErrorEnvelope.ReadAsync(refused);
        Assert.Equal(("rate_limit_exceeded", "requests"), (error.Code, error.Type));
        Assert.Contains("alice", error.Message);
        Assert.Contains("LlmStack:Auth:Keys:0:MaxConcurrentRequests", error.Message);
        Assert.True(refused.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1), $"Retry-After: {refused.Headers.RetryAfter}");
        Assert.True(refusedAfter < TimeSpan.FromSeconds(10), $"refused after {refusedAfter}: it must not wait");
        Assert.Equal(2, model.Started);

        // Another key is served meanwhile.
        using var bob = await StreamAsync(client, ApiKeyTests.OtherKey, "slow", Cancel).WaitAsync(Bound, Cancel);
        Assert.Equal(HttpStatusCode.OK, bob.StatusCode);

        // Hanging up does not free the place while the request's model call still runs...
        await leaving.CancelAsync();
        first.Dispose();
        await model.Cancelled.WaitAsync(Bound, Cancel);
        using (var stillRefused = await StreamAsync(client, ApiKeyTests.Key, "slow", Cancel).WaitAsync(Bound, Cancel))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, stillRefused.StatusCode);
        }
        Assert.Equal(2, alice.InFlight);

        // ...only its end does.
        model.AllowStop();
        await AdmissionTests.WaitUntilAsync(() => alice.InFlight == 1, "the hung-up request ends and gives its place back");
        using var served = await StreamAsync(client, ApiKeyTests.Key, "slow", Cancel).WaitAsync(Bound, Cancel);
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
    }

    [Fact]
    public async Task A_key_with_a_backlog_does_not_delay_another_key_s_first_request()
    {
        var settings = ApiKeyTests.Keys((ApiKeyTests.Key, "greedy"), (ApiKeyTests.OtherKey, "polite"));
        var model = new HeldModel(endless: true);
        await using var app = AdmissionTests.Serve(model, maxConcurrent: 2, maxQueue: 16, settings: settings);
        var gate = AdmissionTests.Gate(app);
        using var client = Client(app);
        using var greedyLeaves = CancellationTokenSource.CreateLinkedTokenSource(Cancel);

        // Three times the slots: two streams hold both, four wait.
        var greedy = Enumerable.Range(0, 6).Select(_ => StreamAsync(client, ApiKeyTests.Key, "held", greedyLeaves.Token)).ToList();
        await AdmissionTests.WaitUntilAsync(() => model.Started == 2 && gate.Queued == 4, "two greedy streams run and four wait");
        var polite = StreamAsync(client, ApiKeyTests.OtherKey, "held", Cancel);
        await AdmissionTests.WaitUntilAsync(() => gate.Queued == 5, "the polite key's request waits too");

        // One greedy stream ends: its slot goes to the polite key, not to the greedy key's oldest waiting request.
        var running = await Task.WhenAny(greedy.Where(r => r.IsCompleted)).WaitAsync(Bound, Cancel);
        (await running).Dispose();
        using var served = await polite.WaitAsync(Bound, Cancel);

        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        Assert.Equal(3, model.Started);
        Assert.Equal(4, gate.Queued);
        await greedyLeaves.CancelAsync();
    }

    /// <summary>
    /// A model that streams "Hello" and then waits; told to stop (its client hung up), it takes until the test allows it,
    /// as a backend still busy with a request's last step does.
    /// </summary>
    private sealed class SlowToStopModel
    {
        private readonly TaskCompletionSource _cancelled = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _mayStop = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _started;

        public SlowToStopModel() => Client = new InMemoryChatClient((_, _, cancellationToken) => Reply(cancellationToken));

        public InMemoryChatClient Client { get; }

        public int Started => Volatile.Read(ref _started);

        /// <summary>Completes when a reply has been told to stop.</summary>
        public Task Cancelled => _cancelled.Task;

        public void AllowStop() => _mayStop.TrySetResult();

        private async IAsyncEnumerable<ChatResponseUpdate> Reply([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _started);
            await Task.Yield();
            yield return new ChatResponseUpdate(ChatRole.Assistant, "Hello");
            try
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                _cancelled.TrySetResult();
                await _mayStop.Task;
                throw;
            }
        }
    }
}
