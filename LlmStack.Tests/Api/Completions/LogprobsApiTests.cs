using System.Net;
using System.Text;
using System.Text.Json;
using LlmStack.Api.Configuration;
using LlmStack.Gguf;
using LlmStack.Tests.Fixtures;

namespace LlmStack.Tests.Api.Completions;

/// <summary>Log probabilities in the wire shapes of chat and text completions, streamed and not, from the embedded engine.</summary>
public sealed class LogprobsApiTests : IAsyncLifetime
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"llmstack-logprobs-api-{Guid.NewGuid():N}.gguf");
    private ApiApplication _app = null!;

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    public ValueTask InitializeAsync()
    {
        RandomModel.Write(_path, new RandomModelSpec { AsciiOnly = true, SuppressEndOfTurn = true });
        _app = new ApiApplication([new ModelOptions { Id = "random", Backend = "embedded", Path = _path }]);
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        File.Delete(_path);
    }

    private async Task<string> PostAsync(string path, string body)
    {
        using var client = _app.CreateClient();
        using var response = await client.PostAsync(path, new StringContent(body, Encoding.UTF8, "application/json"), Cancel);
        var text = await response.Content.ReadAsStringAsync(Cancel);
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        return text;
    }

    [Fact]
    public async Task A_completion_lists_each_tokens_logprob_its_top_alternatives_and_offset()
    {
        using var json = JsonDocument.Parse(await PostAsync("/v1/completions",
            """{"model":"random","prompt":"Hello","max_tokens":6,"temperature":0,"logprobs":2,"echo":true}"""));

        var choice = json.RootElement.GetProperty("choices")[0];
        var text = choice.GetProperty("text").GetString()!;
        var logprobs = choice.GetProperty("logprobs");
        var tokens = logprobs.GetProperty("tokens").EnumerateArray().Select(t => t.GetString()!).ToList();
        Assert.Equal(6, tokens.Count);
        Assert.Equal(6, json.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.Equal(text, "Hello" + string.Concat(tokens));
        var offsets = logprobs.GetProperty("text_offset").EnumerateArray().Select(o => o.GetInt32()).ToList();
        Assert.Equal(tokens.Select((t, i) => "Hello".Length + string.Concat(tokens.Take(i)).Length), offsets);
        var chosen = logprobs.GetProperty("token_logprobs").EnumerateArray().Select(l => l.GetDouble()).ToList();
        var tops = logprobs.GetProperty("top_logprobs").EnumerateArray().ToList();
        for (var i = 0; i < tokens.Count; i++)
        {
            Assert.True(chosen[i] <= 0);
            var top = tops[i].EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetDouble());
            Assert.InRange(top.Count, 2, 3);
            Assert.Equal(chosen[i], top[tokens[i]]);
            Assert.Equal(top.Values.Max(), chosen[i]);
        }
    }

    [Fact]
    public async Task A_streamed_chat_carries_each_chunks_token_logprobs()
    {
        var body = await PostAsync("/v1/chat/completions",
            """{"model":"random","messages":[{"role":"user","content":"Hi"}],"max_tokens":5,"logprobs":true,"top_logprobs":3,"stream":true,"stream_options":{"include_usage":true}}""");

        var chunks = ChatCompletionsWireTests.SseEvents(body)[..^1].Select(e => JsonDocument.Parse(e).RootElement).ToList();
        var content = new StringBuilder();
        var tokens = new List<JsonElement>();
        foreach (var choice in chunks.SelectMany(c => c.GetProperty("choices").EnumerateArray()))
        {
            content.Append(choice.GetProperty("delta").TryGetProperty("content", out var piece) ? piece.GetString() : "");
            if (choice.TryGetProperty("logprobs", out var logprobs))
            {
                tokens.AddRange(logprobs.GetProperty("content").EnumerateArray());
            }
        }
        Assert.Equal(chunks[^1].GetProperty("usage").GetProperty("completion_tokens").GetInt32(), tokens.Count);
        Assert.Equal(content.ToString(), string.Concat(tokens.Select(t => t.GetProperty("token").GetString())));
        Assert.All(tokens, token =>
        {
            Assert.True(token.GetProperty("logprob").GetDouble() <= 0);
            Assert.Equal(Encoding.UTF8.GetBytes(token.GetProperty("token").GetString()!).Select(b => (int)b), token.GetProperty("bytes").EnumerateArray().Select(b => b.GetInt32()));
            var top = token.GetProperty("top_logprobs").EnumerateArray().Select(t => t.GetProperty("logprob").GetDouble()).ToList();
            Assert.Equal(3, top.Count);
            Assert.Equal(top.OrderDescending(), top);
        });
    }

    [Fact]
    public async Task A_chat_completion_has_logprobs_only_when_asked()
    {
        using var asked = JsonDocument.Parse(await PostAsync("/v1/chat/completions",
            """{"model":"random","messages":[{"role":"user","content":"Hi"}],"max_tokens":4,"logprobs":true}"""));
        using var not = JsonDocument.Parse(await PostAsync("/v1/chat/completions",
            """{"model":"random","messages":[{"role":"user","content":"Hi"}],"max_tokens":4}"""));

        var content = asked.RootElement.GetProperty("choices")[0].GetProperty("logprobs").GetProperty("content");
        Assert.Equal(4, content.GetArrayLength());
        Assert.All(content.EnumerateArray(), token => Assert.Equal(0, token.GetProperty("top_logprobs").GetArrayLength()));
        Assert.False(not.RootElement.GetProperty("choices")[0].TryGetProperty("logprobs", out _));
    }
}
