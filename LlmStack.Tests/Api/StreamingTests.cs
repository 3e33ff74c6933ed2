using System.Diagnostics;
using System.Net;
using System.Runtime.CompilerServices;
using System.Text;
using LlmStack.Api.Configuration;
using LlmStack.Api.Pipeline;
using LlmStack.Tests.Fixtures;
using Microsoft.Extensions.AI;

namespace LlmStack.Tests.Api;

/// <summary>
/// Streams as a client feels them: chunks arrive as they are generated, and a client that goes away stops
/// the generation and frees the model.
/// </summary>
public sealed class StreamingTests(GeneratedModels models, ITestOutputHelper output)
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task First_chunk_reaches_the_client_before_the_backend_produces_the_second()
    {
        // The backend withholds its second piece until the client has seen the first: any buffering between
        // them (response buffering, a missing flush) would hold the first chunk back and the test would time out.
        var firstSeen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var app = InMemoryBackend.Serve(("gated", new InMemoryChatClient((_, _, ct) => Gated(firstSeen.Task, ct))));
        using var client = app.CreateClient();

        using var response = await SendStreamingAsync(client, "gated", maxTokens: null, Cancel);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(Cancel));
        var first = await reader.ReadLineAsync(Cancel).AsTask().WaitAsync(Bound, Cancel);
        firstSeen.SetResult();
        var rest = await reader.ReadToEndAsync(Cancel).WaitAsync(Bound, Cancel);

        Assert.Contains("\"content\":\"first\"", first);
        Assert.Contains("\"content\":\"second\"", rest);
    }

    [Fact]
    public async Task First_chunk_of_a_long_reply_arrives_long_before_the_last()
    {
        await using var app = new ApiApplication([new ModelOptions { Id = "looping", Backend = "embedded", Path = models.Looping }]);
        using var client = app.CreateClient();
        // Warm up first, so that the first chunk's time is the stream's and not the first inference's setup.
        using (var warmUp = await SendStreamingAsync(client, "looping", maxTokens: 1, Cancel))
        {
            await warmUp.Content.ReadAsStringAsync(Cancel);
        }
        var clock = Stopwatch.StartNew();

        using var response = await SendStreamingAsync(client, "looping", maxTokens: 1500, Cancel);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(Cancel));
        TimeSpan? firstChunk = null;
        var chunks = 0;
        while (await reader.ReadLineAsync(Cancel).AsTask().WaitAsync(TimeSpan.FromMinutes(1), Cancel) is { } line)
        {
            if (line.StartsWith("data: {", StringComparison.Ordinal))
            {
                firstChunk ??= clock.Elapsed;
                chunks++;
            }
        }
        var lastChunk = clock.Elapsed;

        output.WriteLine($"{chunks} chunks; first after {firstChunk!.Value.TotalMilliseconds:F0} ms, last after {lastChunk.TotalMilliseconds:F0} ms");
        Assert.True(chunks >= 1500, $"{chunks} chunks");
        Assert.True(firstChunk < lastChunk / 4, $"first chunk at {firstChunk}, last at {lastChunk}: the stream was buffered");
    }

    [Fact]
    public async Task Client_that_goes_away_stops_the_generation_and_frees_the_slot()
    {
        await using var app = new ApiApplication([new ModelOptions { Id = "looping", Backend = "embedded", Path = models.Looping, Embedded = new() { ParallelSlots = 1 } }]);
        using var inFlight = new InFlightRequests(app.Services);
        // No draining of an abandoned response: disposing it must close the connection at once.
        using var client = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0 }) { BaseAddress = app.BaseAddress };
        using var abandon = CancellationTokenSource.CreateLinkedTokenSource(Cancel);

        var response = await SendStreamingAsync(client, "looping", maxTokens: null, abandon.Token);
        var reader = new StreamReader(await response.Content.ReadAsStreamAsync(abandon.Token));
        Assert.StartsWith("data: {", await reader.ReadLineAsync(abandon.Token).AsTask().WaitAsync(Bound, Cancel));
        Assert.Equal(1, inFlight.Value);

        var gone = Stopwatch.StartNew();
        abandon.Cancel();
        response.Dispose();
        await inFlight.WaitUntilAsync(active => active == 0, TimeSpan.FromSeconds(5));
        output.WriteLine($"in-flight back to 0 {gone.Elapsed.TotalMilliseconds:F0} ms after the client left");

        // The only slot is free again: the next request is served, not queued behind a ghost.
        using var next = await SendStreamingAsync(client, "looping", maxTokens: 3, Cancel);
        var body = await next.Content.ReadAsStringAsync(Cancel).WaitAsync(Bound, Cancel);
        Assert.Contains("\"finish_reason\":\"length\"", body);
    }

    private static async Task<HttpResponseMessage> SendStreamingAsync(HttpClient client, string model, int? maxTokens, CancellationToken cancellationToken)
    {
        var limit = maxTokens is { } n ? $",\"max_tokens\":{n}" : "";
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = new StringContent($$"""{"model":"{{model}}","stream":true,"messages":[{"role":"user","content":"Tell me a story."}]{{limit}}}""", Encoding.UTF8, "application/json"),
        };
        var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).WaitAsync(Bound, cancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return response;
    }

    private static async IAsyncEnumerable<ChatResponseUpdate> Gated(Task firstSeen, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        yield return new ChatResponseUpdate(ChatRole.Assistant, "first");
        await firstSeen.WaitAsync(cancellationToken);
        yield return new ChatResponseUpdate(ChatRole.Assistant, "second");
    }
}
