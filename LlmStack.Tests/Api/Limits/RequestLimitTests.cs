using System.Net;
using System.Text;
using LlmStack.Api.Endpoints;
using LlmStack.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LlmStack.Tests.Api.Limits;

/// <summary>The documented per-request limits: max_tokens ceiling and total request time.</summary>
public sealed class RequestLimitTests
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private static StringContent Body(string json) => new(json, Encoding.UTF8, "application/json");

    [Theory]
    [InlineData("max_tokens")]
    [InlineData("max_completion_tokens")]
    public async Task Max_tokens_above_the_ceiling_is_a_400_naming_the_setting(string param)
    {
        await using var app = InMemoryBackend.Serve(new Dictionary<string, string?> { ["LlmStack:MaxOutputTokens"] = "100" },
            ("scripted", InMemoryChatClient.Replying(["Hi"])));
        using var client = app.CreateClient();

        using var atCeiling = await client.PostAsync("/v1/chat/completions", Body($$"""{"model":"scripted","{{param}}":100,"messages":[{"role":"user","content":"Hi"}]}"""), Cancel);
        using var above = await client.PostAsync("/v1/chat/completions", Body($$"""{"model":"scripted","{{param}}":101,"messages":[{"role":"user","content":"Hi"}]}"""), Cancel);

        Assert.Equal(HttpStatusCode.OK, atCeiling.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, above.StatusCode);
        var error = await ErrorEnvelope.ReadAsync(above);
        Assert.Equal(param, error.Param);
        Assert.Contains("LlmStack:MaxOutputTokens", error.Message);
    }

    [Theory]
    [MemberData(nameof(StreamedApi.Names), MemberType = typeof(StreamedApi))]
    public async Task A_stream_past_the_request_time_limit_is_told_so_in_its_own_shape(string streamed)
    {
        var api = StreamedApi.Of(streamed);
        var model = new HeldModel(endless: true);
        var logs = new CapturedLogs();
        await using var app = InMemoryBackend.Serve(new Dictionary<string, string?> { ["LlmStack:MaxRequestDuration"] = "00:00:00.5" },
            services => services.AddSingleton<ILoggerProvider>(logs), ("held", model.Client));
        using var client = app.CreateClient();

        using var response = await client.PostAsync(api.Path, Body(api.StreamingBody("held")), Cancel);
        var error = api.EndError(await response.Content.ReadAsStringAsync(Cancel));
        var log = await logs.WaitForAsync(RequestLog.Category, TimeSpan.FromSeconds(20));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("request_timeout", error?.Code);
        Assert.Contains("LlmStack:MaxRequestDuration", error!.Message);
        // Recorded as what it was: a request the server cut off, not a success.
        Assert.Equal("request_timeout", log.State["ErrorCode"]);
    }

    [Theory]
    [MemberData(nameof(StreamedApi.Names), MemberType = typeof(StreamedApi))]
    public async Task A_reply_past_the_request_time_limit_is_a_504(string streamed)
    {
        var api = StreamedApi.Of(streamed);
        var model = new HeldModel();
        await using var app = InMemoryBackend.Serve(new Dictionary<string, string?> { ["LlmStack:MaxRequestDuration"] = "00:00:00.5" }, ("held", model.Client));
        using var client = app.CreateClient();

        using var response = await client.PostAsync(api.Path, Body(api.Body("held")), Cancel);

        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        Assert.Equal("request_timeout", (await ErrorEnvelope.ReadAsync(response)).Code);
    }
}
