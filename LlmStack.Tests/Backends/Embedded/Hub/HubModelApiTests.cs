using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmStack.Api.Backends.Embedded;
using LlmStack.Api.Configuration;
using LlmStack.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace LlmStack.Tests.Backends.Embedded.Hub;

/// <summary>
/// The API serving a model by its hub source: listed and answering from the first second, 503 model_loading with
/// the progress while it downloads, ready and chatting once verified and loaded; clear errors when it cannot be had.
/// </summary>
public sealed class HubModelApiTests(GeneratedModels models)
{
    private const string Model = "hub-scripted";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Model_is_listed_at_once_loading_with_progress_then_downloaded_verified_loaded_and_chatting()
    {
        await using var hub = await HubFixture.StartAsync(models);
        var size = new FileInfo(models.Scripted).Length;
        hub.Hub.HoldAt = size / 2;
        await using var api = Api(hub, $"hf://{HubFixture.Repository}:Q8_0");
        using var client = Client(api);

        // Listed before anything was downloaded.
        var list = await client.GetFromJsonAsync<JsonObject>("/v1/models", Ct).WaitAsync(Timeout, Ct);
        Assert.Equal(Model, (string?)list!["data"]![0]!["id"]);
        await hub.Hub.Holding.WaitAsync(Timeout, Ct);

        using (var loading = await ChatAsync(client))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, loading.StatusCode);
            Assert.Equal(TimeSpan.FromSeconds(10), loading.Headers.RetryAfter?.Delta);
            var error = JsonNode.Parse(await loading.Content.ReadAsStringAsync(Ct))!["error"]!;
            Assert.Equal("model_loading", (string?)error["code"]);
            Assert.Matches($"^The model '{Model}' is loading: downloading scripted-Q8_0.gguf from hf://{HubFixture.Repository}:Q8_0: 50% of [0-9.]+ (KB|MB)", (string?)error["message"]);
        }
        using (var readiness = await client.GetAsync("/readyz", Ct).WaitAsync(Timeout, Ct))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, readiness.StatusCode);
            var report = JsonNode.Parse(await readiness.Content.ReadAsStringAsync(Ct))!;
            var entry = (string?)report["checks"]!.AsArray().Single(c => (string?)c!["name"] == "models")!["data"]![Model];
            Assert.StartsWith("embedded: Degraded - downloading scripted-Q8_0.gguf", entry, StringComparison.Ordinal);
            Assert.Contains("50% of", entry, StringComparison.Ordinal);
        }
        var metrics = await PrometheusText.ScrapeWhenAsync(client, m => PrometheusText.Sum(m, "llmstack_model_download_bytes", $"gen_ai_request_model=\"{Model}\"") == size / 2, Timeout);
        Assert.Equal(size, PrometheusText.Sum(metrics, "llmstack_model_download_size_bytes", $"gen_ai_request_model=\"{Model}\""));

        hub.Hub.Release();
        await WaitReadyAsync(client);

        using var reply = await ChatAsync(client);
        Assert.Equal(HttpStatusCode.OK, reply.StatusCode);
        var completion = JsonNode.Parse(await reply.Content.ReadAsStringAsync(Ct))!;
        Assert.Equal(GeneratedModels.ScriptedReply, (string?)completion["choices"]![0]!["message"]!["content"]);
        var listed = await client.GetFromJsonAsync<JsonObject>($"/v1/models/{Model}", Ct).WaitAsync(Timeout, Ct);
        Assert.NotNull((int?)listed!["context_length"]);
        Assert.Equal(1, hub.Hub.Downloads);
    }

    [Fact]
    public async Task Model_resumes_its_download_after_the_api_restarts()
    {
        await using var hub = await HubFixture.StartAsync(models);
        var size = new FileInfo(HubFixture.LargeModelPath).Length;
        hub.Hub.HoldAt = size * 4 / 10;
        var source = $"hf://{HubFixture.Repository}/{HubFixture.LargeFile}";
        await using (var first = Api(hub, source))
        {
            using var client = Client(first);
            await hub.Hub.Holding.WaitAsync(Timeout, Ct);
            await PrometheusText.ScrapeWhenAsync(client, m => PrometheusText.Sum(m, "llmstack_model_download_bytes", $"gen_ai_request_model=\"{Model}\"") == size * 4 / 10, Timeout);
        }
        // New downloads are not held; the first process's connection, abandoned at the hold, is never woken to send more.
        hub.Hub.HoldAt = null;

        await using var second = Api(hub, source);
        using var again = Client(second);
        await WaitReadyAsync(again);

        Assert.Equal($"bytes={size * 4 / 10}-", hub.Hub.Ranges[^1]);
        var twice = hub.Hub.BytesServed - size;
        Assert.True(twice < size * 0.05, $"{twice:N0} of {size:N0} bytes were fetched twice.");
    }

    [Theory]
    [InlineData("hf://llmstack/No-Such-GGUF:Q8_0", "refused to list the files of llmstack/No-Such-GGUF: 401", "set HF_TOKEN")]
    [InlineData("hf://llmstack/Scripted-GGUF/missing-Q2_K.gguf", "refused to find missing-Q2_K.gguf in llmstack/Scripted-GGUF: 404", "check the file name")]
    public async Task Model_that_cannot_be_had_says_why_in_chats_readiness_and_the_log(string source, string what, string todo)
    {
        await using var hub = await HubFixture.StartAsync(models);
        var logs = new CapturedLogs();
        await using var api = Api(hub, source, services => services.AddSingleton<ILoggerProvider>(logs));
        using var client = Client(api);

        var entry = await UnhealthyEntryAsync(client);
        Assert.Contains(what, entry, StringComparison.Ordinal);

        using var chat = await ChatAsync(client);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, chat.StatusCode);
        var error = JsonNode.Parse(await chat.Content.ReadAsStringAsync(Ct))!["error"]!;
        Assert.Equal("backend_unavailable", (string?)error["code"]);
        Assert.Contains(what, (string?)error["message"], StringComparison.Ordinal);
        Assert.Contains(todo, (string?)error["message"], StringComparison.Ordinal);
        Assert.Contains(logs.Entries, e => e.Message.Contains($"Model {Model} cannot be served from {source}", StringComparison.Ordinal) && e.Message.Contains(what, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Model_larger_than_the_available_memory_is_refused_with_the_numbers()
    {
        await using var hub = await HubFixture.StartAsync(models);
        await using var api = Api(hub, $"hf://{HubFixture.Repository}:Q8_0",
            services => services.Replace(ServiceDescriptor.Singleton<IMachineMemory>(new FixedMemory(100_000_000))));
        using var client = Client(api);

        var entry = await UnhealthyEntryAsync(client);

        Assert.Matches($"Model '{Model}' \\(scripted-Q8_0.gguf\\) needs about [0-9.]+ MB of memory - weights [0-9.]+ KB, KV cache [0-9.]+ (KB|MB) for [0-9,]+ tokens", entry);
        Assert.Contains("but only 100.0 MB is available (a test's machine)", entry, StringComparison.Ordinal);
        Assert.Contains("lower KvCacheSize", entry, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Local_file_larger_than_the_available_memory_stops_the_start_with_the_numbers()
    {
        await using var api = new ApiApplication(
            [new ModelOptions { Id = "local", Backend = "embedded", Path = models.Scripted }],
            configureServices: services => services.Replace(ServiceDescriptor.Singleton<IMachineMemory>(new FixedMemory(1_000_000))));

        var error = Assert.ThrowsAny<Exception>(() => api.BaseAddress);

        Assert.Contains("Model 'local' (scripted.gguf) needs about", error.ToString(), StringComparison.Ordinal);
        Assert.Contains("but only 1.0 MB is available", error.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("hf://owner", "LlmStack:Models:0:Source 'hf://owner' does not name a repository")]
    [InlineData("hf://owner/repo:Q4 K", "LlmStack:Models:0:Source 'hf://owner/repo:Q4 K' has an invalid quantization")]
    public void Malformed_source_stops_the_start_naming_the_key(string source, string message)
    {
        using var api = new ApiApplication([new ModelOptions { Id = Model, Backend = "embedded", Source = source }]);

        var error = Assert.ThrowsAny<Exception>(() => api.BaseAddress);

        Assert.Contains(message, error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Path_and_source_together_stop_the_start()
    {
        using var api = new ApiApplication([new ModelOptions { Id = Model, Backend = "embedded", Source = "hf://a/b:Q8_0", Path = models.Scripted }]);

        var error = Assert.ThrowsAny<Exception>(() => api.BaseAddress);

        Assert.Contains("LlmStack:Models:0:Path and LlmStack:Models:0:Source are both set", error.ToString(), StringComparison.Ordinal);
    }

    private static ApiApplication Api(HubFixture hub, string source, Action<IServiceCollection>? services = null) =>
        new([new ModelOptions { Id = Model, Backend = "embedded", Source = source }], hub.Settings(), services);

    private static HttpClient Client(ApiApplication api) => new() { BaseAddress = api.BaseAddress, Timeout = Timeout };

    private static Task<HttpResponseMessage> ChatAsync(HttpClient client) =>
        client.PostAsJsonAsync("/v1/chat/completions", new JsonObject
        {
            ["model"] = Model,
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "Hello?" }),
        }, Ct).WaitAsync(Timeout, Ct);

    private static async Task WaitReadyAsync(HttpClient client)
    {
        using var deadline = new CancellationTokenSource(Timeout);
        while (true)
        {
            using var response = await client.GetAsync("/readyz", deadline.Token);
            if (response.IsSuccessStatusCode)
            {
                return;
            }
            await Task.Delay(50, deadline.Token);
        }
    }

    private static async Task<JsonNode> ReadinessAsync(HttpClient client)
    {
        using var response = await client.GetAsync("/readyz", Ct).WaitAsync(Timeout, Ct);
        return JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!;
    }

    private static async Task<string> UnhealthyEntryAsync(HttpClient client)
    {
        using var deadline = new CancellationTokenSource(Timeout);
        while (true)
        {
            var report = await ReadinessAsync(client);
            var entry = (string?)report["checks"]!.AsArray().Single(c => (string?)c!["name"] == "models")!["data"]![Model] ?? "";
            if (entry.StartsWith("embedded: Unhealthy", StringComparison.Ordinal))
            {
                return entry;
            }
            await Task.Delay(50, deadline.Token);
        }
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private sealed class FixedMemory(long bytes) : IMachineMemory
    {
        public MemoryAvailability Read() => new(bytes, "a test's machine");
    }
}
