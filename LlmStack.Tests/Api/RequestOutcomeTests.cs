using System.Text;
using System.Text.Json;
using LlmStack.Api.Configuration;
using LlmStack.Api.Endpoints;
using LlmStack.Api.Pipeline;
using LlmStack.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using static LlmStack.Tests.Fixtures.PrometheusText;

namespace LlmStack.Tests.Api;

/// <summary>
/// One request, three witnesses: the streamed response, the request's log line and <c>/metrics</c> report the same
/// time to first token, usage and finish reason, because all three read the request's one outcome.
/// </summary>
[Collection(nameof(MetricsTests))]
public sealed class RequestOutcomeTests(GeneratedModels models)
{
    private const string Model = "outcome-scripted";
    private const string ModelLabel = $"gen_ai_request_model=\"{Model}\"";

    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Response_log_line_and_metrics_of_a_streamed_request_agree()
    {
        var logs = new CapturedLogs();
        await using var app = new ApiApplication(
            [new ModelOptions { Id = Model, Backend = "embedded", Path = models.Scripted }],
            configureServices: services => services.AddSingleton<ILoggerProvider>(logs));
        using var client = app.CreateClient();

        using var response = await client.PostAsync("/v1/chat/completions", new StringContent(
            $$"""{"model":"{{Model}}","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Hi!"}]}""",
            Encoding.UTF8, "application/json"), Cancel);
        var events = (await response.Content.ReadAsStringAsync(Cancel))
            .Split("\n\n", StringSplitOptions.RemoveEmptyEntries)
            .Select(e => e["data: ".Length..])
            .ToList();
        var log = await logs.WaitForAsync(RequestLog.Category, Bound);
        // The log line is written right after the metrics are recorded, from the same outcome.
        var metrics = await ScrapeWhenAsync(client, m => Sum(m, "gen_ai_server_request_duration_seconds_count", ModelLabel) == 1, Bound);

        // The response: a finish reason on the last choice chunk, then the usage chunk, then [DONE].
        Assert.Equal("[DONE]", events[^1]);
        using var usageChunk = JsonDocument.Parse(events[^2]);
        var usage = usageChunk.RootElement.GetProperty("usage");
        var (promptTokens, completionTokens) = (usage.GetProperty("prompt_tokens").GetInt64(), usage.GetProperty("completion_tokens").GetInt64());
        using var finishChunk = JsonDocument.Parse(events[^3]);
        var finish = finishChunk.RootElement.GetProperty("choices")[0].GetProperty("finish_reason").GetString();
        Assert.Equal("stop", finish);
        Assert.Equal(GeneratedModels.PiecesOf(GeneratedModels.ScriptedReply).Count, completionTokens);

        // The log line.
        Assert.Equal(finish, log.State["FinishReason"]);
        Assert.Equal(promptTokens, log.State["PromptTokens"]);
        Assert.Equal(completionTokens, log.State["CompletionTokens"]);
        var ttftMs = Assert.IsType<double>(log.State["TimeToFirstTokenMs"]);
        var durationMs = Assert.IsType<double>(log.State["DurationMs"]);
        Assert.InRange(ttftMs, 0.001, durationMs);

        // The metrics: one request, with the same figures.
        Assert.Equal(1, Sum(metrics, "gen_ai_server_request_duration_seconds_count", ModelLabel, $"llmstack_response_finish_reason=\"{finish}\""));
        Assert.Equal(ttftMs / 1000, Sum(metrics, "gen_ai_server_time_to_first_token_seconds_sum", ModelLabel), 9);
        Assert.Equal(durationMs / 1000, Sum(metrics, "gen_ai_server_request_duration_seconds_sum", ModelLabel), 9);
        Assert.Equal(promptTokens, Sum(metrics, "gen_ai_server_token_usage_sum", ModelLabel, "gen_ai_token_type=\"input\""));
        Assert.Equal(completionTokens, Sum(metrics, "gen_ai_server_token_usage_sum", ModelLabel, "gen_ai_token_type=\"output\""));
    }
}
