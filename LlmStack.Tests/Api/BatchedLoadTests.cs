using System.Net;
using System.Text;
using System.Text.Json;
using LlmStack.Api.Configuration;
using LlmStack.Api.Pipeline;
using LlmStack.Tests.Fixtures;

namespace LlmStack.Tests.Api;

/// <summary>
/// The embedded engine's batch scheduler through the whole API, under a crowd: many streamed and non-streamed
/// requests at once, some abandoned by their clients at random moments.
/// </summary>
public sealed class BatchedLoadTests(GeneratedModels models, ITestOutputHelper output)
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(120);

    // A request its client abandoned holds its place in the admission queue until the server sees the hang-up,
    // so the server can briefly hold more requests than the client sends at once: this test is about batching,
    // not admission, and must not meet the MaxQueue bound.
    private const int Unbounded = 1_000;

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Two_hundred_mixed_requests_with_random_cancellations_leave_nothing_in_flight_and_the_api_healthy()
    {
        await using var app = new ApiApplication(
        [
            new ModelOptions { Id = "scripted", Backend = "embedded", Path = models.Scripted, MaxQueue = Unbounded, Embedded = new() { ParallelSlots = 4 } },
            new ModelOptions { Id = "looping", Backend = "embedded", Path = models.Looping, MaxQueue = Unbounded, Embedded = new() { ParallelSlots = 4 } },
        ]);
        using var inFlight = new InFlightRequests(app.Services);
        using var client = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0 }) { BaseAddress = app.BaseAddress };
        var random = new Random(20261127);
        var plans = Enumerable.Range(0, 200).Select(i => new Plan(
            Model: i % 2 == 0 ? "scripted" : "looping",
            Stream: random.Next(3) > 0,
            // About a third are abandoned, after 0 to 40 ms: in the queue, during the prompt, or mid-stream.
            CancelAfter: random.Next(3) == 0 ? TimeSpan.FromMilliseconds(random.Next(40)) : null)).ToList();
        using var gate = new SemaphoreSlim(24);

        var outcomes = await Task.WhenAll(plans.Select(async plan =>
        {
            await gate.WaitAsync(Cancel);
            try
            {
                return await RunAsync(client, plan);
            }
            finally
            {
                gate.Release();
            }
        })).WaitAsync(Bound, Cancel);

        output.WriteLine($"completed {outcomes.Count(o => o == Outcome.Completed)}, cancelled {outcomes.Count(o => o == Outcome.Cancelled)}");
        Assert.DoesNotContain(Outcome.Wrong, outcomes);
        Assert.Contains(Outcome.Cancelled, outcomes);
        Assert.True(outcomes.Count(o => o == Outcome.Completed) >= 100, "most requests are not cancelled and must complete");
        await inFlight.WaitUntilAsync(active => active == 0, TimeSpan.FromSeconds(15));
        using var health = await client.GetAsync("healthz", Cancel);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal(Outcome.Completed, await RunAsync(client, new Plan("scripted", Stream: true, CancelAfter: null)).WaitAsync(Bound, Cancel));
    }

    private static async Task<Outcome> RunAsync(HttpClient client, Plan plan)
    {
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(Cancel);
        if (plan.CancelAfter is { } after)
        {
            cancel.CancelAfter(after);
        }
        var maxTokens = plan.Model == "looping" ? ",\"max_tokens\":20" : "";
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = new StringContent(
                $$"""{"model":"{{plan.Model}}","stream":{{(plan.Stream ? "true" : "false")}},"messages":[{"role":"user","content":"Hello {{Guid.NewGuid()}}"}]{{maxTokens}}}""",
                Encoding.UTF8, "application/json"),
        };
        try
        {
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancel.Token);
            var body = await response.Content.ReadAsStringAsync(cancel.Token);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                return Outcome.Wrong;
            }
            var text = plan.Stream ? StreamedText(body) : JsonDocument.Parse(body).RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString();
            var expected = plan.Model == "scripted"
                ? GeneratedModels.ScriptedReply
                : string.Concat(Enumerable.Range(0, 20).Select(i => LoopPieces[i % LoopPieces.Count]));
            return text == expected ? Outcome.Completed : Outcome.Wrong;
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested && !Cancel.IsCancellationRequested)
        {
            return Outcome.Cancelled;
        }
    }

    private static readonly IReadOnlyList<string> LoopPieces = GeneratedModels.PiecesOf(GeneratedModels.LoopingReply);

    private static string StreamedText(string body)
    {
        var text = new StringBuilder();
        foreach (var line in body.Split('\n'))
        {
            if (!line.StartsWith("data: {", StringComparison.Ordinal))
            {
                continue;
            }
            using var chunk = JsonDocument.Parse(line["data: ".Length..]);
            if (chunk.RootElement.TryGetProperty("choices", out var choices) && choices.GetArrayLength() > 0
                && choices[0].GetProperty("delta").TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String)
            {
                text.Append(content.GetString());
            }
        }
        return text.ToString();
    }

    private sealed record Plan(string Model, bool Stream, TimeSpan? CancelAfter);

    private enum Outcome
    {
        Completed,
        Cancelled,
        Wrong,
    }
}
