extern alias bench;

using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using bench::LlmStack.Benchmarks.Soak;
using LlmStack.Api.Configuration;
using LlmStack.Api.Pipeline;
using LlmStack.Tests.Fixtures;

namespace LlmStack.Tests.Api.Fuzz;

/// <summary>
/// Ten thousand generated and mutated bodies (chat, responses and embeddings, streamed and not, most chats and
/// responses with structured output: generated JSON schemas, JSON mode, required tools) against the real API serving a
/// generated model through llama.cpp: no answer is a server error, every refusal is OpenAI's envelope, every stream
/// ends as its API ends one, every answer comes within the client's timeout, and the server is healthy afterwards.
/// The slowest requests are written to the test's output.
/// </summary>
public sealed class RequestFuzzTests(GeneratedModels models)
{
    private const int Requests = 10_000;
    private const int Workers = 8;
    private const string Key = "sk-fuzz-0123456789abcdef";

    [Fact]
    public async Task Ten_thousand_fuzzed_bodies_get_no_5xx_and_every_4xx_in_the_envelope()
    {
        var cancel = TestContext.Current.CancellationToken;
        // A body without max_tokens under a grammar the scripted model never closes (a required tool whose object takes
        // any number of integer properties) generates until its sequence's context is full, as it should: a context of
        // 1,024 tokens keeps that within seconds (at 4,096 it took ~60 s on a 2-core box, the client's timeout).
        await using var app = new ApiApplication(
            [new ModelOptions { Id = "scripted", Backend = "embedded", Path = models.Scripted, MaxQueue = 64, Embedded = new() { ContextSize = 1024 } }],
            new Dictionary<string, string?> { ["LlmStack:Auth:Keys:0:Key"] = Key });
        using var client = new HttpClient { BaseAddress = app.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Key);

        var failures = new ConcurrentQueue<string>();
        var statuses = new ConcurrentDictionary<int, int>();
        var slowest = new ConcurrentBag<(TimeSpan Elapsed, string Request)>();
        var sent = 0;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, Workers).Select(worker => Task.Run(async () =>
        {
            var fuzzer = new RequestFuzzer("scripted", "scripted", seed: 1000 + worker);
            while (Interlocked.Increment(ref sent) <= Requests)
            {
                var request = fuzzer.Next();
                using var content = new ByteArrayContent(request.Body);
                content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                var started = Stopwatch.GetTimestamp();
                HttpResponseMessage response;
                string body;
                try
                {
                    response = await client.PostAsync(request.Path, content, cancel);
                    body = await response.Content.ReadAsStringAsync(cancel);
                }
                catch (TaskCanceledException) when (!cancel.IsCancellationRequested)
                {
                    failures.Enqueue($"no answer within {client.Timeout.TotalSeconds} s: {request.Describe()}");
                    continue;
                }
                using (response)
                {
                    var elapsed = Stopwatch.GetElapsedTime(started);
                    if (elapsed > TimeSpan.FromSeconds(1))
                    {
                        slowest.Add((elapsed, $"{(int)response.StatusCode} {request.Describe()}"));
                    }
                    statuses.AddOrUpdate((int)response.StatusCode, 1, (_, n) => n + 1);
                    if (Problem(request.Path, response, body) is { } problem)
                    {
                        failures.Enqueue($"{problem}: {request.Describe()} -> {(int)response.StatusCode} {body[..Math.Min(body.Length, 300)]}");
                    }
                }
            }
        }, cancel)));
        var elapsed = clock.Elapsed;

        TestContext.Current.TestOutputHelper?.WriteLine($"{Requests} fuzzed requests in {elapsed.TotalSeconds:F1} s: " +
            string.Join(", ", statuses.OrderBy(s => s.Key).Select(s => $"{s.Key}: {s.Value}")) + "; slowest:\n" +
            string.Join("\n", slowest.OrderByDescending(s => s.Elapsed).Take(5).Select(s => $"{s.Elapsed.TotalSeconds:F1} s {s.Request}")));
        Assert.True(failures.IsEmpty, $"{failures.Count} bad answers, e.g.:\n{string.Join("\n", failures.Take(5))}");
        // The generator reaches the model too, not only the validation.
        Assert.True(statuses.GetValueOrDefault(200) > Requests / 50, $"only {statuses.GetValueOrDefault(200)} answers were 200");
        Assert.True(statuses.Keys.Count(status => status is >= 400 and < 500) >= 2, "the generator produced too few kinds of refusal");

        using var live = await client.GetAsync("/healthz", cancel);
        using var ready = await client.GetAsync("/readyz", cancel);
        using var chat = await client.PostAsync("/v1/chat/completions", new StringContent(
            """{"model":"scripted","messages":[{"role":"user","content":"Hi!"}]}""", System.Text.Encoding.UTF8, "application/json"), cancel);
        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK), (live.StatusCode, ready.StatusCode, chat.StatusCode));
        Assert.Contains(GeneratedModels.ScriptedReply, await chat.Content.ReadAsStringAsync(cancel));
    }

    private static string? Problem(string path, HttpResponseMessage response, string body)
    {
        var status = (int)response.StatusCode;
        if (status >= 500)
        {
            return "server error";
        }
        if (status >= 400)
        {
            try
            {
                ErrorEnvelope.Parse(body);
                return response.Content.Headers.ContentType?.MediaType == "application/json" ? null : "error without a JSON content type";
            }
            catch (Exception ex) when (ex is System.Text.Json.JsonException or KeyNotFoundException or InvalidOperationException)
            {
                return "error outside the envelope";
            }
        }
        if (response.Content.Headers.ContentType?.MediaType == "text/event-stream")
        {
            // Ends as its API ends a stream that ran to its end; a failure is an error event or response.failed.
            var lines = body.Split('\n');
            if (!StreamEnd.Completed(path, lines.LastOrDefault(l => l.StartsWith("event: ", StringComparison.Ordinal)), lines.LastOrDefault(l => l.StartsWith("data: ", StringComparison.Ordinal))))
            {
                return "stream that did not run to its end";
            }
            if (body.Contains("data: {\"error\"", StringComparison.Ordinal))
            {
                return "stream with an error event";
            }
        }
        return null;
    }
}
