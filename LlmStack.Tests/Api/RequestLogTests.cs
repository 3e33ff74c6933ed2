using System.Text;
using LlmStack.Api.Backends;
using LlmStack.Api.Configuration;
using LlmStack.Api.Endpoints;
using LlmStack.Api.Pipeline;
using LlmStack.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LlmStack.Tests.Api;

/// <summary>One structured log event per request; prompt and completion text only when configured.</summary>
public sealed class RequestLogTests
{
    private const string Prompt = "my secret prompt";
    private const string Reply = "my secret reply";

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Each_request_logs_one_event_with_its_figures_and_no_text()
    {
        var logs = new CapturedLogs();
        await using (var app = Serve(logs, logContent: false))
        {
            using var client = app.CreateClient();
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
            {
                Headers = { { "x-request-id", "log-test-1" } },
                Content = new StringContent($$"""{"model":"m","stream":true,"messages":[{"role":"user","content":"{{Prompt}}"}]}""", Encoding.UTF8, "application/json"),
            };
            using var response = await client.SendAsync(request, Cancel);
            await response.Content.ReadAsStringAsync(Cancel);
        }

        var entry = Assert.Single(logs.Entries, e => e.Category == RequestLog.Category);
        Assert.Equal("log-test-1", entry.State["RequestId"]);
        Assert.Equal("m", entry.State["Model"]);
        Assert.Equal(true, entry.State["Stream"]);
        Assert.Equal(200, entry.State["Status"]);
        Assert.Equal("stop", entry.State["FinishReason"]);
        Assert.Equal(7L, entry.State["PromptTokens"]);
        Assert.Equal(1L, entry.State["CompletionTokens"]);
        Assert.IsType<double>(entry.State["TimeToFirstTokenMs"]);
        Assert.IsType<double>(entry.State["DurationMs"]);
        Assert.DoesNotContain(logs.Entries, e => e.Message.Contains("secret", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Text_is_logged_only_when_LogContent_is_on()
    {
        var logs = new CapturedLogs();
        await using (var app = Serve(logs, logContent: true))
        {
            using var client = app.CreateClient();
            using var response = await client.PostAsync("/v1/chat/completions",
                new StringContent($$"""{"model":"m","messages":[{"role":"user","content":"{{Prompt}}"}]}""", Encoding.UTF8, "application/json"), Cancel);
            await response.Content.ReadAsStringAsync(Cancel);
        }

        var entry = Assert.Single(logs.Entries, e => e.Category == RequestLog.Category);
        Assert.Contains(Prompt, (string)entry.State["Prompt"]!);
        Assert.Equal(Reply, entry.State["Completion"]);
    }

    [Fact]
    public async Task The_event_names_the_API_key_and_never_holds_its_secret()
    {
        const string key = "sk-log-0123456789abcdef";
        var logs = new CapturedLogs();
        await using (var app = Serve(logs, logContent: false, new() { ["LlmStack:Auth:Keys:0:Key"] = key, ["LlmStack:Auth:Keys:0:Name"] = "alice" }))
        {
            using var client = app.CreateClient();
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
            {
                Headers = { Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key) },
                Content = new StringContent("""{"model":"m","messages":[{"role":"user","content":"Hi"}]}""", Encoding.UTF8, "application/json"),
            };
            using var response = await client.SendAsync(request, Cancel);
            await response.Content.ReadAsStringAsync(Cancel);
        }

        var entry = Assert.Single(logs.Entries, e => e.Category == RequestLog.Category);
        Assert.Equal("alice", entry.State["ApiKey"]);
        Assert.DoesNotContain(logs.Entries, e => e.Message.Contains(key, StringComparison.Ordinal));
    }

    private static ApiApplication Serve(CapturedLogs logs, bool logContent, Dictionary<string, string?>? settings = null)
    {
        var backend = new InMemoryBackend(new Dictionary<string, InMemoryChatClient> { ["m"] = InMemoryChatClient.Replying([Reply]) });
        settings ??= [];
        settings["LlmStack:LogContent"] = logContent ? "true" : "false";
        return new ApiApplication(
            [new ModelOptions { Id = "m", Backend = InMemoryBackend.BackendName }],
            settings,
            services =>
            {
                services.AddSingleton<IModelBackend>(backend);
                services.AddSingleton<ILoggerProvider>(logs);
            });
    }
}
