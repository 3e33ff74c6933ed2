using System.Net;
using System.Text;
using LlmStack.Tests.Fixtures;

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

    [Fact]
    public async Task A_stream_past_the_request_time_limit_ends_with_an_error_event_and_done()
    {
        var model = new HeldModel(endless: true);
        await using var app = InMemoryBackend.Serve(new Dictionary<string, string?> { ["LlmStack:MaxRequestDuration"] = "00:00:00.5" }, ("held", model.Client));
        using var client = app.CreateClient();

        using var response = await client.PostAsync("/v1/chat/completions", Body("""{"model":"held","stream":true,"messages":[{"role":"user","content":"Hi"}]}"""), Cancel);
        var events = ChatCompletionsWireTests.SseEvents(await response.Content.ReadAsStringAsync(Cancel));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("[DONE]", events[^1]);
        Assert.Equal("request_timeout", ErrorEnvelope.Parse(events[^2]).Code);
        Assert.Contains("LlmStack:MaxRequestDuration", ErrorEnvelope.Parse(events[^2]).Message);
    }

    [Fact]
    public async Task A_reply_past_the_request_time_limit_is_a_504()
    {
        var model = new HeldModel();
        await using var app = InMemoryBackend.Serve(new Dictionary<string, string?> { ["LlmStack:MaxRequestDuration"] = "00:00:00.5" }, ("held", model.Client));
        using var client = app.CreateClient();

        using var response = await client.PostAsync("/v1/chat/completions", Body("""{"model":"held","messages":[{"role":"user","content":"Hi"}]}"""), Cancel);

        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        Assert.Equal("request_timeout", (await ErrorEnvelope.ReadAsync(response)).Code);
    }
}
