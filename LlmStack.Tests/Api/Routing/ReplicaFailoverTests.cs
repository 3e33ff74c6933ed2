using System.Diagnostics;
using System.Net;
using System.Text.Json;
using LlmStack.Api.Configuration;
using LlmStack.Tests.Fixtures;

namespace LlmStack.Tests.Api.Routing;

/// <summary>
/// Failover with real processes: three LlmStack API processes on loopback (each an embedded engine streaming a reply
/// that names it) behind a routing API; one is killed under load. No request that had not started streaming fails,
/// the streams cut on the killed one end with an error event and <c>[DONE]</c>, new requests stop going to it within
/// a second, and once it is started again a probe puts it back in rotation.
/// </summary>
public sealed class ReplicaFailoverTests : IAsyncLifetime
{
    private static readonly string[] Names = ["Alpha", "Bravo", "Charlie"];
    private readonly List<KillableApiProcess> _upstreams = [.. Names.Select(name => new KillableApiProcess(ReplicaUpstreams.ProcessSettings(name, loop: true)))];

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => await Task.WhenAll(_upstreams.Select(u => u.StartAsync()));

    public async ValueTask DisposeAsync()
    {
        foreach (var upstream in _upstreams)
        {
            await upstream.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_replica_killed_under_load_fails_no_request_that_had_not_started_streaming_and_comes_back()
    {
        var killed = _upstreams[1];
        await using var router = new ApiApplication([new ModelOptions
        {
            Id = "chat",
            Backend = "openai",
            UpstreamModel = ReplicaUpstreams.UpstreamModel,
            Replicas = [.. _upstreams.Select(u => new ReplicaOptions { Endpoint = u.OpenAIEndpoint })],
            Routing = new RoutingOptions { FailuresToEject = 2, EjectionTime = TimeSpan.FromMilliseconds(300), MaxEjectionTime = TimeSpan.FromSeconds(1) },
        }]);
        var client = router.CreateClient();
        client.Timeout = TimeSpan.FromMinutes(2);

        var clock = Stopwatch.StartNew();
        var results = new List<StreamResult>();
        var streaming = new System.Collections.Concurrent.ConcurrentDictionary<string, int>();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Cancel);
        var workers = Enumerable.Range(0, 6).Select(worker => Task.Run(async () =>
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                var result = await StreamAsync(client, $"Worker {worker}, request {i}", clock, streaming);
                lock (results)
                {
                    results.Add(result);
                }
            }
        }, Cancel)).ToList();

        // Under load, until the killed replica has streams in flight.
        await WaitUntilAsync(() => streaming.GetValueOrDefault("Bravo") >= 1 && clock.Elapsed > TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60));
        var killedAt = clock.Elapsed;
        killed.Kill();
        // The load goes on until requests begun more than a second after the kill have finished.
        await WaitUntilAsync(() =>
        {
            lock (results)
            {
                return results.Count(r => r.StartedAt > killedAt + TimeSpan.FromSeconds(1)) >= 6;
            }
        }, TimeSpan.FromSeconds(90));
        await stop.CancelAsync();
        await Task.WhenAll(workers);

        List<StreamResult> all;
        lock (results)
        {
            all = [.. results];
        }
        var failed = all.Where(r => !r.Succeeded).ToList();
        // Every failure is a stream that had started on the killed replica, ended as a stream should.
        Assert.All(failed, r =>
        {
            Assert.True(r.Started, $"a request that had not started streaming failed: {r.Detail}");
            Assert.Equal("Bravo", r.Speaker);
            Assert.True(r.EndedWithErrorAndDone, $"a cut stream did not end with an error event and [DONE]: {r.Detail}");
        });
        Assert.NotEmpty(failed);
        // Traffic moved within a second: nothing that started a second after the kill was served by it.
        Assert.DoesNotContain(all, r => r.StartedAt > killedAt + TimeSpan.FromSeconds(1) && r.Speaker == "Bravo");
        Assert.Contains(all, r => r.StartedAt > killedAt + TimeSpan.FromSeconds(1) && r.Succeeded);

        // Started again on the same port: a probe puts it back (at most MaxEjectionTime apart), and it serves again.
        await killed.StartAsync();
        var back = Stopwatch.StartNew();
        var servedAgain = false;
        while (!servedAgain && back.Elapsed < TimeSpan.FromSeconds(60))
        {
            var result = await StreamAsync(client, $"After the restart {back.ElapsedMilliseconds}", clock, streaming);
            Assert.True(result.Succeeded, result.Detail);
            servedAgain = result.Speaker == "Bravo";
        }
        Assert.True(servedAgain, $"the restarted replica was given no request within 60 s; /readyz: {await client.GetStringAsync("/readyz", Cancel)}");
    }

    private static async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout)
    {
        var waited = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(waited.Elapsed < timeout, $"the load did not get there within {timeout.TotalSeconds} s");
            await Task.Delay(20, Cancel);
        }
    }

    /// <summary>One streamed chat, read to its end; <paramref name="streaming"/> counts the streams in flight per speaker.</summary>
    private static async Task<StreamResult> StreamAsync(
        HttpClient client, string question, Stopwatch clock, System.Collections.Concurrent.ConcurrentDictionary<string, int> streaming)
    {
        var startedAt = clock.Elapsed;
        var text = new System.Text.StringBuilder();
        var events = new List<string>();
        string? speaker = null;
        try
        {
            // Long enough to be in flight when the replica dies, short enough to keep the test brief.
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
            {
                Content = ReplicaRoutingTests.Body("chat", question, stream: true, maxTokens: 600),
            };
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, Cancel);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                return new StreamResult(startedAt, false, false, false, null, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(Cancel)}");
            }
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(Cancel));
            while (await reader.ReadLineAsync(Cancel) is { } line)
            {
                if (!line.StartsWith("data: ", StringComparison.Ordinal))
                {
                    continue;
                }
                var data = line["data: ".Length..];
                events.Add(data);
                if (data != "[DONE]" && !data.StartsWith("{\"error\"", StringComparison.Ordinal)
                    && JsonDocument.Parse(data).RootElement.GetProperty("choices") is { ValueKind: JsonValueKind.Array } choices && choices.GetArrayLength() > 0
                    && choices[0].GetProperty("delta").TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String)
                {
                    text.Append(content.GetString());
                    if (speaker is null && ReplicaUpstreams.Speaker(text.ToString(), Names) is { } found)
                    {
                        speaker = found;
                        streaming.AddOrUpdate(found, 1, (_, n) => n + 1);
                    }
                }
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException)
        {
            return new StreamResult(startedAt, text.Length > 0, false, false, speaker, $"the connection broke: {ex.Message}");
        }
        finally
        {
            if (speaker is not null)
            {
                streaming.AddOrUpdate(speaker, 0, (_, n) => n - 1);
            }
        }
        var done = events.Count > 0 && events[^1] == "[DONE]";
        var error = events.Count > 1 && events[^2].StartsWith("{\"error\"", StringComparison.Ordinal);
        return new StreamResult(startedAt, text.Length > 0, done && !error, done && error, speaker,
            $"{events.Count} events, last: {string.Join(" | ", events.TakeLast(2))}");
    }

    private sealed record StreamResult(TimeSpan StartedAt, bool Started, bool Succeeded, bool EndedWithErrorAndDone, string? Speaker, string Detail);
}
