extern alias bench;

using System.Net.Http.Json;
using System.Text.Json.Nodes;
using bench::LlmStack.Benchmarks.Hosting;
using LlmStack.Tests.Fixtures;

namespace LlmStack.Tests.Backends.Embedded.Hub;

/// <summary>
/// Replicas on one host (or one volume) share the model cache: two API processes - real ones, as users run them -
/// started at once with the same source download the file once; the one that does not hold the cache's lock waits,
/// says so, and loads the file the other verified.
/// </summary>
public sealed class SharedCacheTests(GeneratedModels models)
{
    private const string Model = "hub-scripted";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task Two_api_processes_starting_at_once_download_the_file_once()
    {
        await using var hub = await HubFixture.StartAsync(models);
        var size = new FileInfo(models.Scripted).Length;
        hub.Hub.HoldAt = size / 2;
        var settings = new Dictionary<string, string>
        {
            ["LlmStack__Models__0__Id"] = Model,
            ["LlmStack__Models__0__Backend"] = "embedded",
            ["LlmStack__Models__0__Source"] = $"hf://{HubFixture.Repository}:Q8_0",
        };
        foreach (var (key, value) in hub.Settings())
        {
            settings[key.Replace(":", "__", StringComparison.Ordinal)] = value!;
        }

        // Bounded by cancelling the starts, not by WaitAsync: a start abandoned by WaitAsync would leave its process running.
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        bound.CancelAfter(Timeout);
        var starting = await ApiProcess.StartAllAsync([settings, settings], waitUntilReady: false, bound.Token);
        await using var first = starting[0];
        await using var second = starting[1];
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };

        // One downloads (held in the middle of the file); the other waits for it, and says so.
        await hub.Hub.Holding.WaitAsync(Timeout, Ct);
        var waiting = await WaitForAsync(async () =>
        {
            foreach (var api in starting)
            {
                if ((await ReadinessAsync(http, api)).Contains("another process is downloading scripted-Q8_0.gguf into the cache", StringComparison.Ordinal))
                {
                    return api;
                }
            }
            return null;
        });
        var downloading = waiting == first ? second : first;
        Assert.Contains($"downloading {HubFixture.ScriptedFile} from hf://{HubFixture.Repository}:Q8_0", await ReadinessAsync(http, downloading), StringComparison.Ordinal);

        hub.Hub.Release();
        await Task.WhenAll(first.WaitUntilReadyAsync(Ct), second.WaitUntilReadyAsync(Ct)).WaitAsync(Timeout, Ct);

        Assert.Equal(1, hub.Hub.Downloads);
        Assert.Equal(size, hub.Hub.BytesServed);
        foreach (var api in starting)
        {
            using var reply = await http.PostAsJsonAsync(new Uri(api.BaseAddress, "v1/chat/completions"), new JsonObject
            {
                ["model"] = Model,
                ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "Hello?" }),
            }, Ct);
            var completion = JsonNode.Parse(await reply.Content.ReadAsStringAsync(Ct))!;
            Assert.Equal(GeneratedModels.ScriptedReply, (string?)completion["choices"]![0]!["message"]!["content"]);
        }
    }

    /// <summary>The model's entry in the API's <c>/readyz</c> report ("embedded: Degraded - ...").</summary>
    private static async Task<string> ReadinessAsync(HttpClient http, ApiProcess api)
    {
        using var response = await http.GetAsync(new Uri(api.BaseAddress, "readyz"), Ct);
        var report = JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!;
        return (string?)report["checks"]?.AsArray().SingleOrDefault(c => (string?)c!["name"] == "models")?["data"]?[Model] ?? "";
    }

    private static async Task<T> WaitForAsync<T>(Func<Task<T?>> probe) where T : class
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        deadline.CancelAfter(Timeout);
        while (true)
        {
            if (await probe() is { } found)
            {
                return found;
            }
            await Task.Delay(100, deadline.Token);
        }
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;
}
