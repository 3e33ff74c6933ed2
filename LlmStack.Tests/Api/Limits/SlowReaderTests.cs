using System.Net;
using System.Net.Http.Headers;
using System.Text;
using LlmStack.Api.Configuration;
using LlmStack.Api.Endpoints;
using LlmStack.Tests.Api.Access;
using LlmStack.Tests.Fixtures;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LlmStack.Tests.Api.Limits;

/// <summary>
/// Clients that stop reading their streams, against the embedded engine generating endlessly (the looping model): the
/// write timeout cuts them, frees their slots for the next request, and the model's queue keeps taking keys in turn
/// while one key holds every slot with such streams.
/// </summary>
public sealed class SlowReaderTests(GeneratedModels models, ITestOutputHelper output)
{
    // Generous: the box these tests run on is shared and loaded; a stream must first fill the buffers between it and its client.
    private static readonly TimeSpan Bound = TimeSpan.FromMinutes(3);

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    // Room for a long reply: a stream must outlast the buffers between it and its client before its context ends it.
    private ModelOptions Looping(int slots) => new()
    {
        Id = "looping",
        Backend = "embedded",
        Path = models.Looping,
        Embedded = new() { ParallelSlots = slots, ContextSize = 8192, KvCacheSize = 8192 * slots },
    };

    /// <summary>
    /// The server's sockets get a small send buffer (accepted sockets inherit it from the listening one): left to grow,
    /// loopback's buffers take megabytes - minutes of this model's output on a loaded box - before a write must wait.
    /// </summary>
    private static void SmallSendBuffers(IServiceCollection services) =>
        services.Configure<SocketTransportOptions>(sockets => sockets.CreateBoundListenSocket = endpoint =>
        {
            var socket = SocketTransportOptions.CreateDefaultBoundListenSocket(endpoint);
            socket.SendBufferSize = 4096;
            return socket;
        });

    private static HttpClient Client(ApiApplication app, string key) => new()
    {
        BaseAddress = app.BaseAddress,
        Timeout = Bound,
        DefaultRequestHeaders = { Authorization = new AuthenticationHeaderValue("Bearer", key) },
    };

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    [Theory]
    [MemberData(nameof(StreamedApi.Names), MemberType = typeof(StreamedApi))]
    public async Task A_client_that_stops_reading_is_cut_by_the_write_timeout_charged_and_its_slot_serves_the_next(string streamed)
    {
        var api = StreamedApi.Of(streamed);
        var logs = new CapturedLogs();
        var settings = ApiKeyTests.Keys((ApiKeyTests.Key, "reader"));
        settings["LlmStack:StreamWriteTimeout"] = "00:00:02";
        await using var app = new ApiApplication([Looping(slots: 1)], settings, services =>
        {
            services.AddSingleton<ILoggerProvider>(logs);
            SmallSendBuffers(services);
        });
        using var client = Client(app, ApiKeyTests.Key);

        using var stalled = await NonReadingClient.SendAsync(app.BaseAddress, api.Path, LongStream(api), ApiKeyTests.Key, Cancel);
        var line = await logs.WaitForAsync(RequestLog.Category, Bound);
        output.WriteLine(line.Message);

        // Recorded as what it was: cut off, with the tokens it was generated (what its key is charged).
        Assert.Equal(200, RequestLogStatus(line));
        Assert.Equal("stream_write_timeout", line.State["ErrorCode"]);
        Assert.True(line.State["CompletionTokens"] is long tokens && tokens > 0, $"completion_tokens={line.State["CompletionTokens"]}");
        Assert.Contains(logs.Entries, e => e.Category == typeof(SseResult).FullName && e.Message.Contains("LlmStack:StreamWriteTimeout", StringComparison.Ordinal));
        var metrics = await PrometheusText.ScrapeWhenAsync(client,
            m => PrometheusText.Sum(m, "gen_ai_server_request_duration_seconds_count", "error_type=\"stream_write_timeout\"") >= 1, Bound);
        Assert.Equal(1, PrometheusText.Sum(metrics, "gen_ai_server_request_duration_seconds_count", "error_type=\"stream_write_timeout\""));

        // The model's only slot is free: the next request is served, not queued behind the stalled one.
        using var next = await client.PostAsync("/v1/chat/completions",
            Json("""{"model":"looping","max_tokens":3,"messages":[{"role":"user","content":"Hi"}]}"""), Cancel).WaitAsync(Bound, Cancel);
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
        Assert.Contains("\"finish_reason\":\"length\"", await next.Content.ReadAsStringAsync(Cancel));

        // And the stalled connection is over: what it held ends (with the error event if it got out, or a reset).
        var (text, _) = await stalled.ReadToEndAsync(Cancel).WaitAsync(Bound, Cancel);
        Assert.StartsWith("HTTP/1.1 200", text);
    }

    [Fact]
    public async Task A_key_holding_three_times_the_slots_in_streams_it_does_not_read_delays_another_key_by_one_slot_s_turn_at_most()
    {
        var settings = ApiKeyTests.Keys((ApiKeyTests.Key, "greedy"), (ApiKeyTests.OtherKey, "polite"));
        // Long enough for the setup below to finish before the first greedy stream is cut, even on a loaded box.
        settings["LlmStack:StreamWriteTimeout"] = "00:00:05";
        var model = Looping(slots: 2);
        model.MaxQueue = 16;
        var logs = new CapturedLogs();
        await using var app = new ApiApplication([model], settings, services =>
        {
            services.AddSingleton<ILoggerProvider>(logs);
            SmallSendBuffers(services);
        });
        var gate = AdmissionTests.Gate(app, "looping");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var polite = Client(app, ApiKeyTests.OtherKey);

        var greedy = new List<NonReadingClient>();
        try
        {
            for (var i = 0; i < 6; i++)
            {
                greedy.Add(await NonReadingClient.SendAsync(app.BaseAddress, "/v1/chat/completions",
                    """{"model":"looping","stream":true,"max_tokens":8000,"messages":[{"role":"user","content":"Tell me a story."}]}""", ApiKeyTests.Key, Cancel));
            }
            await AdmissionTests.WaitUntilAsync(() => gate.Admitted == 2 && gate.Queued == 4, "two greedy streams hold both slots and four wait");

            output.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s: 2 greedy streams run, 4 wait");
            // A long one, so that it still holds its slot when the gate is looked at.
            var politeStream = KeyFairnessTests.StreamAsync(polite, ApiKeyTests.OtherKey, "looping", Cancel, maxTokens: 4000);
            await AdmissionTests.WaitUntilAsync(() => gate.Queued == 5, "the polite key's request waits too");
            using var served = await politeStream.WaitAsync(Bound, Cancel);
            var greedyStillWaiting = gate.Queued;
            output.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s: the polite key's stream started ({served.StatusCode}), {greedyStillWaiting} greedy requests still wait");
            foreach (var entry in logs.Entries.Where(e => e.Category == RequestLog.Category || e.Category == typeof(SseResult).FullName))
            {
                output.WriteLine(entry.Message);
            }

            // The first slot the write timeout frees goes to the polite key; at most the second (freed about as soon) to greedy.
            Assert.Equal(HttpStatusCode.OK, served.StatusCode);
            Assert.True(greedyStillWaiting >= 3, $"{4 - greedyStillWaiting} of the greedy key's waiting requests started before the polite key's");
            using var reader = new StreamReader(await served.Content.ReadAsStreamAsync(Cancel));
            Assert.StartsWith("data: {", await reader.ReadLineAsync(Cancel).AsTask().WaitAsync(Bound, Cancel));
        }
        finally
        {
            greedy.ForEach(g => g.Dispose());
        }
    }

    /// <summary>The API's streaming body with room for a reply longer than every buffer between the server and its client.</summary>
    private static string LongStream(StreamedApi api) =>
        "{" + (api.Name == "responses" ? "\"max_output_tokens\"" : "\"max_tokens\"") + ":8000," + api.StreamingBody("looping")[1..];

    private static int RequestLogStatus(LogEntry line) => Convert.ToInt32(line.State["Status"], System.Globalization.CultureInfo.InvariantCulture);
}
