extern alias apphost;

using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using apphost::LlmStack.AppHost.Monitoring;
using LlmStack.Api.Configuration;
using LlmStack.Tests.AppModel;
using LlmStack.Tests.Fixtures;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace LlmStack.Tests.Api.Routing;

/// <summary>
/// A model served by several replicas (OpenAI-compatible LlmStack APIs on loopback, each an embedded engine whose reply
/// names it): one model in <c>/v1/models</c>, each replica in <c>/readyz</c>, the load spread, a 503 replica skipped,
/// lower priorities only while the primaries are down, every replica down a 503 with Retry-After, conversations kept
/// on their replica, and a fallback model named in the response.
/// </summary>
public sealed class ReplicaRoutingTests
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private static ModelOptions Routed(string id, IEnumerable<ReplicaOptions> replicas, RoutingOptions? routing = null) => new()
    {
        Id = id,
        Backend = "openai",
        UpstreamModel = ReplicaUpstreams.UpstreamModel,
        Replicas = [.. replicas],
        Routing = routing ?? new RoutingOptions { EjectionTime = TimeSpan.FromMinutes(1), MaxEjectionTime = TimeSpan.FromMinutes(1) },
    };

    private static ReplicaOptions At(ApiApplication upstream, int priority = 0, int weight = 1) =>
        new() { Endpoint = upstream.OpenAIEndpoint.ToString(), Priority = priority, Weight = weight };

    [Fact]
    public async Task Requests_one_at_a_time_alternate_over_the_replicas_of_one_listed_model_and_readyz_reports_each()
    {
        await using var alpha = ReplicaUpstreams.InProcess("Alpha");
        await using var bravo = ReplicaUpstreams.InProcess("Bravo");
        await using var router = new ApiApplication([Routed("chat", [At(alpha), At(bravo)])]);
        var client = router.CreateClient();

        var models = await client.GetFromJsonAsync<JsonElement>("/v1/models", Cancel);
        var model = Assert.Single(models.GetProperty("data").EnumerateArray());
        Assert.Equal("chat", model.GetProperty("id").GetString());
        Assert.Equal("openai", model.GetProperty("backend").GetString());

        // One request at a time both replicas are equally idle: they take turns.
        var speakers = new List<string?>();
        for (var i = 0; i < 20; i++)
        {
            speakers.Add(ReplicaUpstreams.Speaker(await ChatAsync(client, "chat", $"Question {i}"), ["Alpha", "Bravo"]));
        }
        Assert.Equal(10, speakers.Count(s => s == "Alpha"));
        Assert.Equal(10, speakers.Count(s => s == "Bravo"));
        Assert.All(speakers.Zip(speakers.Skip(1)), pair => Assert.NotEqual(pair.First, pair.Second));

        var ready = await client.GetStringAsync("/readyz", Cancel);
        Assert.Contains($"chat replica 0 (127.0.0.1:{alpha.OpenAIEndpoint.Port})", ready);
        Assert.Contains($"chat replica 1 (127.0.0.1:{bravo.OpenAIEndpoint.Port})", ready);
        Assert.Contains("in rotation", ready);
    }

    [Fact]
    public async Task A_replica_answering_503_is_skipped_and_taken_out_of_rotation()
    {
        var refused = 0;
        await using var overloaded = await LoopbackWebServer.StartAsync(endpoints =>
        {
            endpoints.MapGet("/v1/models", () => Results.Json(new { @object = "list", data = Array.Empty<object>() }));
            endpoints.MapPost("/v1/chat/completions", (HttpContext context) =>
            {
                Interlocked.Increment(ref refused);
                context.Response.Headers.RetryAfter = "30";
                return Results.Json(new { error = new { message = "The engine is overloaded.", type = "server_error" } }, statusCode: 503);
            });
        });
        await using var bravo = ReplicaUpstreams.InProcess("Bravo");
        // The 503 replica weighs most: it is chosen first for as long as it is in rotation.
        var first = new ReplicaOptions { Endpoint = new Uri(overloaded.RootAddress, "v1").ToString(), Weight = 100 };
        await using var router = new ApiApplication([Routed("chat", [first, At(bravo)])]);
        var client = router.CreateClient();

        for (var i = 0; i < 8; i++)
        {
            Assert.Equal(ReplicaUpstreams.ReplyOf("Bravo"), await ChatAsync(client, "chat", $"Question {i}", stream: i % 2 == 0));
        }

        Assert.Equal(RoutingOptions.DefaultFailuresToEject, refused);
        var metrics = await client.GetStringAsync("/metrics", Cancel);
        var address = $"server_address=\"{overloaded.RootAddress.Authority}\"";
        Assert.Equal(0, PrometheusText.Sum(metrics, "llmstack_replica_in_rotation", address));
        Assert.Equal(1, PrometheusText.Sum(metrics, "llmstack_replica_ejections_total", address));
        Assert.Equal(RoutingOptions.DefaultFailuresToEject, PrometheusText.Sum(metrics, "llmstack_replica_errors_total", address, "error_type=\"backend_unavailable\""));

        // The dashboard's replica row reads what the API exports.
        var families = metrics.Split('\n').Where(l => l.StartsWith("# TYPE ", StringComparison.Ordinal)).Select(l => l.Split(' ')[2]).ToHashSet();
        Assert.All(GrafanaDashboard.ReplicaPanels.SelectMany(p => p.Queries).SelectMany(q => ComposePublisherTests.MetricNames(q.Expression)),
            metric => Assert.Contains(metric, families));
    }

    [Fact]
    public async Task A_lower_priority_replica_serves_only_while_the_primaries_are_down()
    {
        var alpha = ReplicaUpstreams.InProcess("Alpha");
        var bravo = ReplicaUpstreams.InProcess("Bravo");
        await using var charlie = ReplicaUpstreams.InProcess("Charlie");
        await using var router = new ApiApplication([Routed("chat", [At(alpha), At(bravo), At(charlie, priority: 1)])]);
        var client = router.CreateClient();
        string[] names = ["Alpha", "Bravo", "Charlie"];

        var whileUp = new List<string?>();
        for (var i = 0; i < 12; i++)
        {
            whileUp.Add(ReplicaUpstreams.Speaker(await ChatAsync(client, "chat", $"Question {i}"), names));
        }
        Assert.DoesNotContain("Charlie", whileUp);
        Assert.DoesNotContain(null, whileUp);

        await alpha.DisposeAsync();
        await bravo.DisposeAsync();
        for (var i = 0; i < 8; i++)
        {
            // Refused connections move a request on at once: none of these fails while the primaries are ejected.
            Assert.Equal(ReplicaUpstreams.ReplyOf("Charlie"), await ChatAsync(client, "chat", $"Later question {i}", stream: i % 2 == 1));
        }
    }

    [Fact]
    public async Task With_every_replica_down_a_request_gets_503_with_retry_after_naming_each_replica()
    {
        var (one, two) = (ClosedPort(), ClosedPort());
        await using var router = new ApiApplication([Routed("chat",
        [
            new ReplicaOptions { Endpoint = $"http://127.0.0.1:{one}/v1" },
            new ReplicaOptions { Endpoint = $"http://127.0.0.1:{two}/v1" },
        ])]);
        var client = router.CreateClient();

        for (var i = 0; i < RoutingOptions.DefaultFailuresToEject + 1; i++)
        {
            using var response = await client.PostAsync("/v1/chat/completions", Body("chat", "Hi", stream: i % 2 == 0), Cancel);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.True(response.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1), "Retry-After is missing");
            var error = await ErrorEnvelope.ReadAsync(response);
            Assert.Equal("backend_unavailable", error.Code);
            Assert.Contains($"127.0.0.1:{one}", error.Message);
            Assert.Contains($"127.0.0.1:{two}", error.Message);
        }
        var ready = await client.GetAsync("/readyz", Cancel);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Contains("out of rotation", await ready.Content.ReadAsStringAsync(Cancel));
    }

    [Fact]
    public async Task A_continued_conversation_stays_on_the_replica_that_served_it()
    {
        await using var alpha = ReplicaUpstreams.InProcess("Alpha");
        await using var bravo = ReplicaUpstreams.InProcess("Bravo");
        await using var router = new ApiApplication([Routed("chat", [At(alpha), At(bravo)])]);
        var client = router.CreateClient();
        string[] names = ["Alpha", "Bravo"];

        for (var conversation = 0; conversation < 3; conversation++)
        {
            // Chat: each turn sends the whole conversation so far.
            var messages = new JsonArray { new JsonObject { ["role"] = "system", ["content"] = "Be brief." } };
            var chatSpeakers = new HashSet<string?>();
            for (var turn = 0; turn < 6; turn++)
            {
                messages.Add(new JsonObject { ["role"] = "user", ["content"] = $"Conversation {conversation}, turn {turn}" });
                var reply = await ChatAsync(client, new JsonObject { ["model"] = "chat", ["messages"] = messages.DeepClone() });
                chatSpeakers.Add(ReplicaUpstreams.Speaker(reply, names));
                messages.Add(new JsonObject { ["role"] = "assistant", ["content"] = reply });
            }
            Assert.Single(chatSpeakers);

            // Responses: each turn names the previous response.
            string? previous = null;
            var responseSpeakers = new HashSet<string?>();
            for (var turn = 0; turn < 6; turn++)
            {
                var body = new JsonObject { ["model"] = "chat", ["input"] = $"Conversation {conversation}, turn {turn}" };
                if (previous is not null)
                {
                    body["previous_response_id"] = previous;
                }
                using var response = await client.PostAsJsonAsync("/v1/responses", body, Cancel);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                var json = await response.Content.ReadFromJsonAsync<JsonElement>(Cancel);
                previous = json.GetProperty("id").GetString();
                responseSpeakers.Add(ReplicaUpstreams.Speaker(json.GetRawText(), names));
            }
            Assert.Single(responseSpeakers);
        }
    }

    [Fact]
    public async Task A_model_that_cannot_serve_falls_back_to_its_fallback_which_the_response_names()
    {
        var small = new ModelOptions { Id = "small", Backend = "embedded", Path = ReplicaUpstreams.ModelFile("Small") };
        var big = Routed("big", [new ReplicaOptions { Endpoint = $"http://127.0.0.1:{ClosedPort()}/v1" }]);
        big.Fallback = "small";
        await using var router = new ApiApplication([big, small]);
        var client = router.CreateClient();

        using var plain = await client.PostAsync("/v1/chat/completions", Body("big", "Hi", stream: false), Cancel);
        Assert.Equal(HttpStatusCode.OK, plain.StatusCode);
        var completion = await plain.Content.ReadFromJsonAsync<JsonElement>(Cancel);
        Assert.Equal("small", completion.GetProperty("model").GetString());
        Assert.Equal(ReplicaUpstreams.ReplyOf("Small"), completion.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());

        using var streamed = await client.PostAsync("/v1/chat/completions", Body("big", "Hi", stream: true), Cancel);
        Assert.Equal(HttpStatusCode.OK, streamed.StatusCode);
        var events = ChatCompletionsWireTests.SseEvents(await streamed.Content.ReadAsStringAsync(Cancel));
        Assert.Equal("[DONE]", events[^1]);
        Assert.All(events[..^1], e => Assert.Equal("small", JsonDocument.Parse(e).RootElement.GetProperty("model").GetString()));
    }

    internal static StringContent Body(string model, string question, bool stream, int? maxTokens = null)
    {
        var body = new JsonObject
        {
            ["model"] = model,
            ["stream"] = stream,
            ["messages"] = new JsonArray { new JsonObject { ["role"] = "user", ["content"] = question } },
        };
        if (maxTokens is { } max)
        {
            body["max_tokens"] = max;
        }
        return new StringContent(body.ToJsonString(), System.Text.Encoding.UTF8, "application/json");
    }

    private static Task<string> ChatAsync(HttpClient client, string model, string question, bool stream = false) =>
        ChatAsync(client, new JsonObject
        {
            ["model"] = model,
            ["stream"] = stream,
            ["messages"] = new JsonArray { new JsonObject { ["role"] = "user", ["content"] = question } },
        });

    /// <summary>The reply's text, streamed or not; fails the test on any error.</summary>
    private static async Task<string> ChatAsync(HttpClient client, JsonObject body)
    {
        using var response = await client.PostAsync("/v1/chat/completions",
            new StringContent(body.ToJsonString(), System.Text.Encoding.UTF8, "application/json"), Cancel);
        var text = await response.Content.ReadAsStringAsync(Cancel);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {text}");
        if (body["stream"]?.GetValue<bool>() != true)
        {
            return JsonDocument.Parse(text).RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;
        }
        var events = ChatCompletionsWireTests.SseEvents(text);
        Assert.Equal("[DONE]", events[^1]);
        Assert.DoesNotContain(events, e => e.StartsWith("{\"error\"", StringComparison.Ordinal));
        return string.Concat(events[..^1].Select(e => JsonDocument.Parse(e).RootElement.GetProperty("choices") is { ValueKind: JsonValueKind.Array } choices
            && choices.GetArrayLength() > 0 && choices[0].GetProperty("delta").TryGetProperty("content", out var content)
            && content.ValueKind == JsonValueKind.String ? content.GetString() : ""));
    }

    /// <summary>A loopback port nothing listens on: connections to it are refused.</summary>
    internal static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }
}
