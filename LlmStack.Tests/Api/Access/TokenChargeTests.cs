using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using LlmStack.Api.Endpoints;
using LlmStack.Tests.Api.Limits;
using LlmStack.Tests.Fixtures;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace LlmStack.Tests.Api.Access;

/// <summary>
/// A key's token budget is charged what was generated for it, however the request ended - the ways a client could
/// otherwise take tokens without paying for them - and concurrent requests cannot spend the same tokens. The clock is
/// frozen, so the budget never refills during a test: what is left is exactly the limit less what was charged.
/// </summary>
public sealed class TokenChargeTests
{
    private const int Limit = 1000;

    // "Hi" as one user message: 2 bytes -> 1 token, plus 4 for the message's template markers.
    private const long PromptEstimate = 5;

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private readonly CapturedLogs _logs = new();

    private ApiApplication Serve(InMemoryChatClient model, int tokensPerMinute = Limit, Dictionary<string, string?>? settings = null)
    {
        settings ??= [];
        foreach (var (key, value) in ApiKeyTests.Keys((ApiKeyTests.Key, "alice"), (ApiKeyTests.OtherKey, "bob")))
        {
            settings[key] = value;
        }
        settings["LlmStack:Auth:Keys:0:TokensPerMinute"] = tokensPerMinute.ToString(CultureInfo.InvariantCulture);
        // 7 prompt + 3 completion tokens, as the backend reports them.
        var scripted = InMemoryChatClient.Replying(["a", "b", "c"], usage: new UsageDetails { InputTokenCount = 7, OutputTokenCount = 3, TotalTokenCount = 10 });
        return InMemoryBackend.Serve(settings,
            services => services.AddSingleton<TimeProvider>(new FakeTimeProvider()).AddSingleton<ILoggerProvider>(_logs),
            ("model", model), ("scripted", scripted));
    }

    private static HttpRequestMessage Post(string path, string body, string key = ApiKeyTests.Key) => new(HttpMethod.Post, path)
    {
        Content = new StringContent(body, Encoding.UTF8, "application/json"),
        Headers = { Authorization = new AuthenticationHeaderValue("Bearer", key) },
    };

    private static string Chat(string model, bool stream, int? maxTokens = null) =>
        $$"""{"model":"{{model}}","stream":{{(stream ? "true" : "false")}},{{(maxTokens is { } max ? $"\"max_tokens\":{max}," : "")}}"messages":[{"role":"user","content":"Hi"}]}""";

    /// <summary>The key's tokens left, as the next answer's header says: a scripted reply that is charged 10 tokens first.</summary>
    private static async Task<long> TokensLeftAsync(HttpClient client)
    {
        using var request = Post("/v1/chat/completions", Chat("scripted", stream: false, maxTokens: 3));
        using var response = await client.SendAsync(request, Cancel);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return long.Parse(response.Headers.GetValues("x-ratelimit-remaining-tokens").Single(), CultureInfo.InvariantCulture) + 10;
    }

    private async Task<LogEntry> RequestLogAsync(string model)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            if (_logs.Entries.FirstOrDefault(e => e.Category == RequestLog.Category && Equals(e.State["Model"], model)) is { } entry)
            {
                return entry;
            }
            Assert.True(DateTime.UtcNow < deadline, $"no request log line for {model}");
            await Task.Delay(20, Cancel);
        }
    }

    private static long Tokens(LogEntry log, string name) => Assert.IsType<long>(log.State[name]);

    [Theory]
    [MemberData(nameof(StreamedApi.Names), MemberType = typeof(StreamedApi))]
    public async Task A_client_that_hangs_up_before_the_end_is_charged_its_prompt_and_every_token_it_was_sent(string streamed)
    {
        var api = StreamedApi.Of(streamed);
        var model = new HeldModel(endless: true);
        await using var app = Serve(model.Client);
        // No draining of the rest of the response on dispose: the client hangs up at once.
        using var client = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0 }) { BaseAddress = app.BaseAddress };

        using (var request = Post(api.Path, api.StreamingBody("model")))
        using (var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, Cancel))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(Cancel));
            var received = 0;
            while (received < 5 && await reader.ReadLineAsync(Cancel) is { } line)
            {
                received += line.Contains(" again", StringComparison.Ordinal) ? 1 : 0;
            }
        }

        var log = await RequestLogAsync("model");
        Assert.Equal(RequestTelemetry.ClientClosedRequest, log.State["Status"]);
        Assert.Equal(PromptEstimate, Tokens(log, "PromptTokens"));
        // "Hello" and at least the five " again" read; a few more may have been generated before the hang-up was seen.
        Assert.InRange(Tokens(log, "CompletionTokens"), 6, 30);
        Assert.Equal(Limit - Tokens(log, "PromptTokens") - Tokens(log, "CompletionTokens"), await TokensLeftAsync(client));
    }

    [Theory]
    [MemberData(nameof(StreamedApi.Names), MemberType = typeof(StreamedApi))]
    public async Task A_stream_cut_by_the_time_limit_is_charged_what_it_generated(string streamed)
    {
        var api = StreamedApi.Of(streamed);
        var model = new HeldModel(endless: true);
        await using var app = Serve(model.Client, settings: new() { ["LlmStack:MaxRequestDuration"] = "00:00:00.5" });
        using var client = app.CreateClient();

        using var request = Post(api.Path, api.StreamingBody("model"));
        using var response = await client.SendAsync(request, Cancel);
        var body = await response.Content.ReadAsStringAsync(Cancel);
        Assert.Equal("request_timeout", api.EndError(body)?.Code);

        var log = await RequestLogAsync("model");
        Assert.Equal("request_timeout", log.State["ErrorCode"]);
        Assert.Equal(PromptEstimate, Tokens(log, "PromptTokens"));
        // Every token the client was sent is counted (one per update: "Hello" and each " again" delta).
        var sent = 1 + (body.Split("\" again\"").Length - 1);
        Assert.InRange(Tokens(log, "CompletionTokens"), sent, sent + 2);
        Assert.Equal(Limit - PromptEstimate - Tokens(log, "CompletionTokens"), await TokensLeftAsync(client));
    }

    [Fact]
    public async Task A_reply_that_fails_after_tokens_is_charged_them_and_one_that_fails_before_any_is_not()
    {
        var failing = InMemoryChatClient.FailingAfter(["a", "b", "c"], new InvalidOperationException("the backend broke"));
        await using var app = Serve(failing);
        using var client = app.CreateClient();

        using var request = Post("/v1/chat/completions", Chat("model", stream: true));
        using var response = await client.SendAsync(request, Cancel);
        Assert.Equal("internal_error", StreamedApi.Of("chat").EndError(await response.Content.ReadAsStringAsync(Cancel))?.Code);

        var log = await RequestLogAsync("model");
        Assert.Equal((PromptEstimate, 3L), (Tokens(log, "PromptTokens"), Tokens(log, "CompletionTokens")));
        Assert.Equal(Limit - PromptEstimate - 3, await TokensLeftAsync(client));
    }

    [Fact]
    public async Task A_reply_that_fails_before_any_token_is_not_charged()
    {
        var failing = InMemoryChatClient.FailingAfter([], new InvalidOperationException("the backend broke"));
        await using var app = Serve(failing);
        using var client = app.CreateClient();

        using var request = Post("/v1/chat/completions", Chat("model", stream: true));
        using var response = await client.SendAsync(request, Cancel);
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);

        var log = await RequestLogAsync("model");
        Assert.Null(log.State["CompletionTokens"]);
        Assert.Equal(Limit, await TokensLeftAsync(client));
    }

    [Fact]
    public async Task A_reply_not_streamed_that_the_client_hangs_up_on_is_charged_its_whole_reservation()
    {
        var model = new HeldModel();
        await using var app = Serve(model.Client);
        using var client = app.CreateClient();

        using (var hangUp = CancellationTokenSource.CreateLinkedTokenSource(Cancel))
        using (var request = Post("/v1/chat/completions", Chat("model", stream: false, maxTokens: 50)))
        {
            var sent = client.SendAsync(request, hangUp.Token);
            while (model.Started == 0)
            {
                await Task.Delay(10, Cancel);
            }
            await hangUp.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => sent);
        }

        var log = await RequestLogAsync("model");
        Assert.Equal(RequestTelemetry.ClientClosedRequest, log.State["Status"]);
        Assert.Equal((PromptEstimate, 50L), (Tokens(log, "PromptTokens"), Tokens(log, "CompletionTokens")));
        Assert.Equal(Limit - PromptEstimate - 50, await TokensLeftAsync(client));
    }

    [Fact]
    public async Task Concurrent_requests_beyond_the_budget_are_refused_at_admission_while_another_key_is_served()
    {
        var model = new HeldModel();
        // Each request reserves 5 (its prompt) + 40 (max_tokens): two fit in 100, a third does not.
        await using var app = Serve(model.Client, tokensPerMinute: 100);
        using var client = app.CreateClient();

        var held = new List<Task<HttpResponseMessage>>();
        for (var i = 0; i < 2; i++)
        {
            held.Add(client.SendAsync(Post("/v1/chat/completions", Chat("model", stream: true, maxTokens: 40)), HttpCompletionOption.ResponseHeadersRead, Cancel));
        }
        while (model.Started < 2)
        {
            await Task.Delay(10, Cancel);
        }

        using (var refusedRequest = Post("/v1/chat/completions", Chat("model", stream: true, maxTokens: 40)))
        using (var refused = await client.SendAsync(refusedRequest, Cancel))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
            var error = await ErrorEnvelope.ReadAsync(refused);
            Assert.Equal(("rate_limit_exceeded", "tokens"), (error.Code, error.Type));
            Assert.Contains("reserves 45", error.Message);
            Assert.Equal(2, model.Started);
            // 10 tokens left, 45 needed: 35 at 100 a minute is 21 s.
            Assert.Equal(TimeSpan.FromSeconds(21), refused.Headers.RetryAfter?.Delta);
        }

        // The other key is served meanwhile.
        using (var bobRequest = Post("/v1/chat/completions", Chat("scripted", stream: false), ApiKeyTests.OtherKey))
        using (var bob = await client.SendAsync(bobRequest, Cancel))
        {
            Assert.Equal(HttpStatusCode.OK, bob.StatusCode);
        }

        model.Release();
        foreach (var response in await Task.WhenAll(held))
        {
            using (response)
            {
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                await response.Content.ReadAsStringAsync(Cancel);
            }
        }
    }
}
