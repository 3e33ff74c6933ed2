using System.Diagnostics;
using System.Net;
using System.Text;
using LlmStack.Tests.Backends;
using LlmStack.Tests.Backends.OpenAI;
using LlmStack.Tests.Fixtures;

namespace LlmStack.Tests.Api.Faults;

/// <summary>
/// Upstreams that fail the ways real ones do - killed mid-stream, accepting and never answering, answering
/// garbage - seen from the API's client, over real HTTP, for both upstream protocols.
/// </summary>
public sealed class UpstreamFaultTests : IAsyncLifetime
{
    private static readonly TimeSpan FirstTokenTimeout = TimeSpan.FromSeconds(1);

    private OllamaTestServer _ollama = null!;
    private FakeOpenAIServer _openAI = null!;
    private BackendHost _api = null!;

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _ollama = await OllamaTestServer.StartAsync("dying", "holding", "garbage");
        _openAI = await FakeOpenAIServer.StartAsync();
        var ollama = _ollama.Endpoint.ToString();
        var openAI = _openAI.Endpoint.ToString();
        _api = new BackendHost(
            BackendHost.UpstreamModel("ollama", "ollama-dying", ollama, "dying"),
            BackendHost.UpstreamModel("ollama", "ollama-silent", ollama, "holding", m => m.FirstTokenTimeout = FirstTokenTimeout),
            BackendHost.UpstreamModel("ollama", "ollama-garbage", ollama, "garbage"),
            BackendHost.UpstreamModel("openai", "openai-dying", openAI, "dying"),
            BackendHost.UpstreamModel("openai", "openai-silent", openAI, "holding", m => m.FirstTokenTimeout = FirstTokenTimeout),
            BackendHost.UpstreamModel("openai", "openai-garbage", openAI, "garbage"),
            BackendHost.UpstreamModel("openai", "openai-cut", openAI, "cut"));
        _ = _api.BaseAddress;
    }

    public async ValueTask DisposeAsync()
    {
        await _api.DisposeAsync();
        await _openAI.DisposeAsync();
        await _ollama.DisposeAsync();
    }

    private async Task<(HttpResponseMessage Response, string Body, TimeSpan Elapsed)> ChatAsync(string model, bool stream)
    {
        using var client = new HttpClient { BaseAddress = _api.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        var clock = Stopwatch.StartNew();
        var response = await client.PostAsync("/v1/chat/completions", new StringContent(
            $$"""{"model":"{{model}}","stream":{{(stream ? "true" : "false")}},"messages":[{"role":"user","content":"Hi"}]}""", Encoding.UTF8, "application/json"), Cancel);
        var body = await response.Content.ReadAsStringAsync(Cancel);
        return (response, body, clock.Elapsed);
    }

    [Theory]
    [InlineData("ollama-dying")]
    [InlineData("openai-dying")]
    public async Task An_upstream_killed_mid_stream_gives_the_client_an_error_event_and_done_without_waiting_for_a_timeout(string model)
    {
        using var client = new HttpClient { BaseAddress = _api.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent(
                $$"""{"model":"{{model}}","stream":true,"messages":[{"role":"user","content":"Hi"}]}""", Encoding.UTF8, "application/json"),
        };
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, Cancel);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        // The clock starts when the client has the upstream's one chunk: the upstream is killed 100 ms after sending it.
        // Request start-up (a cold pipeline, a loaded box) is not part of what is measured.
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(Cancel));
        var body = new StringBuilder();
        Stopwatch? sinceFirstChunk = null;
        while (await reader.ReadLineAsync(Cancel) is { } line)
        {
            body.Append(line).Append('\n');
            if (sinceFirstChunk is null && line.StartsWith("data: ", StringComparison.Ordinal))
            {
                sinceFirstChunk = Stopwatch.StartNew();
            }
        }
        var afterFirstChunk = sinceFirstChunk?.Elapsed;

        var events = ChatCompletionsWireTests.SseEvents(body.ToString());
        Assert.Contains("Half", events[0]);
        Assert.Equal("[DONE]", events[^1]);
        var error = ErrorEnvelope.Parse(events[^2]);
        Assert.Equal("server_error", error.Type);
        // The reset connection ends the stream at once. An API that missed it would wait on its upstream read instead:
        // for openai until the SDK's network timeout (the first-token timeout, 5 min here, + 30 s), for ollama with no
        // bound of its own (this client's 60 s ends it). 5 s is far below both and far above a loaded box's delays.
        Assert.NotNull(afterFirstChunk);
        Assert.True(afterFirstChunk < TimeSpan.FromSeconds(5),
            $"the stream ended {afterFirstChunk.Value.TotalMilliseconds:F0} ms after its first chunk (the upstream was killed 100 ms after it)");
    }

    [Fact]
    public async Task An_error_event_in_an_upstreams_stream_ends_the_reply_with_an_error_not_as_complete()
    {
        var (chat, chatBody, _) = await ChatAsync("openai-cut", stream: true);
        Assert.Equal(HttpStatusCode.OK, chat.StatusCode);
        var events = ChatCompletionsWireTests.SseEvents(chatBody);
        Assert.Contains("Half", events[0]);
        Assert.Equal("[DONE]", events[^1]);
        var error = ErrorEnvelope.Parse(events[^2]);
        Assert.Equal("server_error", error.Type);
        Assert.Contains("The server is shutting down: the reply was cut.", error.Message);
        // The cut reply is not passed off as a whole one.
        Assert.DoesNotContain(events, e => e.Contains("\"finish_reason\":\"stop\"", StringComparison.Ordinal));

        var (_, json, _) = await ChatAsync("openai-cut", stream: false);
        Assert.Contains("The server is shutting down: the reply was cut.", ErrorEnvelope.Parse(json).Message);

        using var client = new HttpClient { BaseAddress = _api.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        using var responses = await client.PostAsync("/v1/responses", new StringContent(
            """{"model":"openai-cut","stream":true,"input":"Hi"}""", Encoding.UTF8, "application/json"), Cancel);
        var responsesBody = await responses.Content.ReadAsStringAsync(Cancel);
        Assert.Contains("event: response.failed", responsesBody);
        Assert.DoesNotContain("event: response.completed", responsesBody);
    }

    [Theory]
    [InlineData("ollama-silent", true)]
    [InlineData("ollama-silent", false)]
    [InlineData("openai-silent", true)]
    [InlineData("openai-silent", false)]
    public async Task An_upstream_that_accepts_and_never_answers_ends_in_the_first_token_timeout(string model, bool stream)
    {
        var (response, body, elapsed) = await ChatAsync(model, stream);

        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        var error = ErrorEnvelope.Parse(body);
        Assert.Equal("backend_timeout", error.Code);
        Assert.Contains("FirstTokenTimeout", error.Message);
        Assert.True(elapsed >= FirstTokenTimeout && elapsed < TimeSpan.FromSeconds(15), $"answered after {elapsed}");
        response.Dispose();
    }

    [Theory]
    [InlineData("ollama-garbage", true)]
    [InlineData("ollama-garbage", false)]
    [InlineData("openai-garbage", true)]
    [InlineData("openai-garbage", false)]
    public async Task An_upstream_that_answers_garbage_is_a_502_in_the_envelope(string model, bool stream)
    {
        var (response, body, _) = await ChatAsync(model, stream);

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var error = ErrorEnvelope.Parse(body);
        Assert.Equal("backend_error", error.Code);
        Assert.DoesNotContain("<html>", error.Message);
        response.Dispose();
    }
}
