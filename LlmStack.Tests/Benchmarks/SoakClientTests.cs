extern alias bench;

using System.Text;
using bench::LlmStack.Benchmarks.Soak;
using LlmStack.Api.Configuration;
using LlmStack.Tests.Fixtures;

namespace LlmStack.Tests.Benchmarks;

/// <summary>
/// The soak's counting of streams against the real API: a stream that ran to its end is a 200 whichever API it came
/// from (chat completions end with <c>[DONE]</c>, the Responses API with its final state and no <c>[DONE]</c>), and a
/// stream cut short is unexpected. The soak's "stream cut" figure is only worth what this counting is.
/// </summary>
public sealed class SoakClientTests(GeneratedModels models)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData("/v1/chat/completions", """{"model":"scripted","stream":true,"max_tokens":8,"messages":[{"role":"user","content":"Hi!"}]}""")]
    [InlineData("/v1/chat/completions", """{"model":"scripted","stream":true,"max_tokens":200,"messages":[{"role":"user","content":"Hi!"}]}""")]
    [InlineData("/v1/responses", """{"model":"scripted","stream":true,"max_output_tokens":8,"input":"Hi!"}""")]
    [InlineData("/v1/responses", """{"model":"scripted","stream":true,"max_output_tokens":200,"input":"Hi!"}""")]
    public async Task A_stream_that_ran_to_its_end_is_counted_as_a_200_for_either_API(string path, string body)
    {
        var tally = new SoakTally();
        await using var api = new ApiApplication([new ModelOptions { Id = "scripted", Backend = "embedded", Path = models.Scripted }]);
        using var http = new HttpClient { BaseAddress = api.BaseAddress };
        var client = new SoakClient(http, "scripted", "unused", "unused", tally);

        var outcome = await client.SendAsync("stream", path, Encoding.UTF8.GetBytes(body), "unused", TestContext.Current.CancellationToken)
            .WaitAsync(Timeout, TestContext.Current.CancellationToken);

        Assert.Equal("200", outcome);
        Assert.Equal(0, tally.UnexpectedCount);
    }

    [Theory]
    [InlineData("/v1/chat/completions", "event: response.completed", "data: {\"choices\":[]}")]
    [InlineData("/v1/responses", null, "data: [DONE]")]
    [InlineData("/v1/responses", "event: response.failed", "data: {\"type\":\"response.failed\"}")]
    [InlineData("/v1/responses", "event: response.output_text.delta", "data: {\"type\":\"response.output_text.delta\"}")]
    public void A_stream_that_stopped_before_its_API_ends_one_is_not_completed(string path, string? lastEvent, string lastData) =>
        Assert.False(StreamEnd.Completed(path, lastEvent, lastData));
}
