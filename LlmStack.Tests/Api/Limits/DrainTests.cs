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

    private static async Task<(HttpResponseMessage Response, StreamReader Events)> OpenStreamAsync(HttpClient client, StreamedApi api)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, api.Path)
        {
            Content = new StringContent(api.StreamingBody("held"), Encoding.UTF8, "application/json"),
        };
        var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, Cancel);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var events = new StreamReader(await response.Content.ReadAsStreamAsync(Cancel));
        // Up to the event that carries the model's first text (Responses opens with events of its own).
        string? line;
        do
        {
            line = await events.ReadLineAsync(Cancel).AsTask().WaitAsync(Bound, Cancel);
            Assert.NotNull(line);
        }
        while (!line.Contains("Hello", StringComparison.Ordinal));
        Assert.Equal("", await events.ReadLineAsync(Cancel));
        return (response, events);
    }

    private static async Task<string> RestOfStreamAsync(StreamReader events) =>
        await events.ReadToEndAsync(Cancel).WaitAsync(Bound, Cancel);

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

    [Theory]
    [MemberData(nameof(StreamedApi.Names), MemberType = typeof(StreamedApi))]
    public async Task A_stream_still_running_when_the_drain_ends_is_told_so_in_its_own_shape(string streamed)
    {
        var api = StreamedApi.Of(streamed);
        var model = new HeldModel(endless: true);
        var app = Serve(model, drainTimeout: TimeSpan.FromSeconds(1));
        var address = app.BaseAddress;
        using var client = new HttpClient { BaseAddress = address };
        var (response, events) = await OpenStreamAsync(client, api);

        var stopping = Stopwatch.StartNew();
        var stop = app.DisposeAsync().AsTask();
        await AssertNewRequestsRefusedAsync(address);
        var rest = await RestOfStreamAsync(events);
        var ended = stopping.Elapsed;

        Assert.Equal("server_shutting_down", api.EndError(rest)?.Code);
        // The stream kept going during the drain: the model was not stopped at the first signal.
        var count = rest.Split("\n\n", StringSplitOptions.RemoveEmptyEntries).Length;
        Assert.True(count > 5, $"only {count} events after the stop");
        Assert.True(ended >= TimeSpan.FromSeconds(0.9) && ended < TimeSpan.FromSeconds(10), $"ended after {ended}");
        await stop.WaitAsync(Bound, Cancel);
        response.Dispose();
    }

    [Theory]
    [MemberData(nameof(StreamedApi.Names), MemberType = typeof(StreamedApi))]
    public async Task A_stream_that_finishes_within_the_drain_completes_normally(string streamed)
    {
        var api = StreamedApi.Of(streamed);
        var model = new HeldModel();
        var app = Serve(model, drainTimeout: TimeSpan.FromSeconds(20));
        var address = app.BaseAddress;
        using var client = new HttpClient { BaseAddress = address };
        var (response, events) = await OpenStreamAsync(client, api);

        var stopping = Stopwatch.StartNew();
        var stop = app.DisposeAsync().AsTask();
        await AssertNewRequestsRefusedAsync(address);
        model.Release();
        var rest = await RestOfStreamAsync(events);

        Assert.Null(api.EndError(rest));
        Assert.Contains(api.Name == "responses" ? "\"status\":\"completed\"" : "\"finish_reason\":\"stop\"", rest, StringComparison.Ordinal);
        // The server stopped as soon as the last request was done, not at the end of the drain timeout.
        await stop.WaitAsync(Bound, Cancel);
        Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(15), $"stopped after {stopping.Elapsed}");
        response.Dispose();
    }
}
