using System.Diagnostics;
using System.Net;
using System.Text;
using LlmStack.Tests.Fixtures;

namespace LlmStack.Tests.Api.Limits;

/// <summary>
/// Graceful shutdown: the host stopping (what SIGTERM does) while a stream is in flight, over real HTTP.
/// </summary>
public sealed class DrainTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private static ApiApplication Serve(HeldModel model, TimeSpan drainTimeout) =>
        InMemoryBackend.Serve(new Dictionary<string, string?> { ["LlmStack:DrainTimeout"] = drainTimeout.ToString() }, ("held", model.Client));

    private static async Task<(HttpResponseMessage Response, StreamReader Events)> OpenStreamAsync(HttpClient client)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent("""{"model":"held","stream":true,"messages":[{"role":"user","content":"Hi"}]}""", Encoding.UTF8, "application/json"),
        };
        var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, Cancel);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var events = new StreamReader(await response.Content.ReadAsStreamAsync(Cancel));
        Assert.Contains("Hello", await NextEventAsync(events));
        return (response, events);
    }

    private static async Task<string> NextEventAsync(StreamReader events)
    {
        var line = await events.ReadLineAsync(Cancel).AsTask().WaitAsync(Bound, Cancel);
        Assert.NotNull(line);
        Assert.Equal("", await events.ReadLineAsync(Cancel));
        return line;
    }

    private static async Task<List<string>> RestOfStreamAsync(StreamReader events)
    {
        var rest = await events.ReadToEndAsync(Cancel).WaitAsync(Bound, Cancel);
        return [.. rest.Split("\n\n", StringSplitOptions.RemoveEmptyEntries)];
    }

    /// <summary>A new request is refused: the server has closed its listener, or it answers 503 on a connection still open.</summary>
    private static async Task AssertNewRequestsRefusedAsync(Uri address)
    {
        using var other = new HttpClient { BaseAddress = address };
        await AdmissionTests.WaitUntilAsync(() =>
        {
            try
            {
                using var response = other.GetAsync("/v1/models", Cancel).GetAwaiter().GetResult();
                if (response.StatusCode != HttpStatusCode.ServiceUnavailable)
                {
                    return false;
                }
                Assert.Equal("server_shutting_down", ErrorEnvelope.ReadAsync(response).GetAwaiter().GetResult().Code);
                return true;
            }
            catch (HttpRequestException ex) when (ex.HttpRequestError == HttpRequestError.ConnectionError)
            {
                return true;
            }
        }, "new requests are refused while the server drains");
    }

    [Fact]
    public async Task A_stream_still_running_when_the_drain_ends_gets_an_error_event_and_done()
    {
        var model = new HeldModel(endless: true);
        var app = Serve(model, drainTimeout: TimeSpan.FromSeconds(1));
        var address = app.BaseAddress;
        using var client = new HttpClient { BaseAddress = address };
        var (response, events) = await OpenStreamAsync(client);

        var stopping = Stopwatch.StartNew();
        var stop = app.DisposeAsync().AsTask();
        await AssertNewRequestsRefusedAsync(address);
        var rest = await RestOfStreamAsync(events);
        var ended = stopping.Elapsed;

        Assert.Equal("data: [DONE]", rest[^1]);
        var error = ErrorEnvelope.Parse(rest[^2]["data: ".Length..]);
        Assert.Equal("server_shutting_down", error.Code);
        // The stream kept going during the drain: the model was not stopped at the first signal.
        Assert.True(rest.Count > 5, $"only {rest.Count} events after the stop");
        Assert.True(ended >= TimeSpan.FromSeconds(0.9) && ended < TimeSpan.FromSeconds(10), $"ended after {ended}");
        await stop.WaitAsync(Bound, Cancel);
        response.Dispose();
    }

    [Fact]
    public async Task A_stream_that_finishes_within_the_drain_completes_normally()
    {
        var model = new HeldModel();
        var app = Serve(model, drainTimeout: TimeSpan.FromSeconds(20));
        var address = app.BaseAddress;
        using var client = new HttpClient { BaseAddress = address };
        var (response, events) = await OpenStreamAsync(client);

        var stopping = Stopwatch.StartNew();
        var stop = app.DisposeAsync().AsTask();
        await AssertNewRequestsRefusedAsync(address);
        model.Release();
        var rest = await RestOfStreamAsync(events);

        Assert.Equal("data: [DONE]", rest[^1]);
        Assert.Contains(rest, e => e.Contains("\"finish_reason\":\"stop\"", StringComparison.Ordinal));
        Assert.DoesNotContain(rest, e => e.Contains("\"error\"", StringComparison.Ordinal));
        // The server stopped as soon as the last request was done, not at the end of the drain timeout.
        await stop.WaitAsync(Bound, Cancel);
        Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(15), $"stopped after {stopping.Elapsed}");
        response.Dispose();
    }
}
