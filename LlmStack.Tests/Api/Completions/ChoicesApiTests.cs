using System.Net;
using System.Text;
using System.Text.Json;
using LlmStack.Api.Configuration;
using LlmStack.Gguf;
using LlmStack.Tests.Fixtures;

namespace LlmStack.Tests.Api.Completions;

/// <summary>Several choices (<c>n</c>) in the wire shapes of chat and text completions, streamed and not, from the embedded engine.</summary>
public sealed class ChoicesApiTests : IAsyncLifetime
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"llmstack-choices-api-{Guid.NewGuid():N}.gguf");
    private ApiApplication _app = null!;

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    public ValueTask InitializeAsync()
    {
        RandomModel.Write(_path, new RandomModelSpec { AsciiOnly = true, SuppressEndOfTurn = true });
        _app = new ApiApplication([new ModelOptions { Id = "random", Backend = "embedded", Path = _path, Embedded = new() { ParallelSlots = 4 } }]);
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        File.Delete(_path);
    }

    private async Task<(HttpStatusCode Status, string Body)> PostAsync(string path, string body)
    {
        using var client = _app.CreateClient();
        using var response = await client.PostAsync(path, new StringContent(body, Encoding.UTF8, "application/json"), Cancel);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(Cancel));
    }

    private async Task<string> OkAsync(string path, string body)
    {
        var (status, text) = await PostAsync(path, body);
        Assert.True(status == HttpStatusCode.OK, text);
        return text;
    }

    [Fact]
    public async Task A_chat_completion_of_four_choices_lists_them_indexed_with_usage_summed()
    {
        const string request = """{"model":"random","messages":[{"role":"user","content":"Tell me"}],"max_tokens":6,"temperature":1,"seed":3,"n":4}""";
        using var json = JsonDocument.Parse(await OkAsync("/v1/chat/completions", request));
        using var one = JsonDocument.Parse(await OkAsync("/v1/chat/completions", request.Replace("\"n\":4", "\"n\":1")));

        var choices = json.RootElement.GetProperty("choices").EnumerateArray().ToList();
        Assert.Equal([0, 1, 2, 3], choices.Select(c => c.GetProperty("index").GetInt32()));
        Assert.Equal(4, choices.Select(c => c.GetProperty("message").GetProperty("content").GetString()).Distinct().Count());
        Assert.All(choices, c => Assert.Equal("length", c.GetProperty("finish_reason").GetString()));
        var usage = json.RootElement.GetProperty("usage");
        // The prompt is counted once (it was read once); every choice's tokens are counted.
        Assert.Equal(one.RootElement.GetProperty("usage").GetProperty("prompt_tokens").GetInt32(), usage.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(24, usage.GetProperty("completion_tokens").GetInt32());
        Assert.Equal(usage.GetProperty("prompt_tokens").GetInt32() + 24, usage.GetProperty("total_tokens").GetInt32());
    }

    [Fact]
    public async Task A_streamed_chat_of_three_choices_interleaves_chunks_by_index_each_with_role_and_finish()
    {
        var body = await OkAsync("/v1/chat/completions",
            """{"model":"random","messages":[{"role":"user","content":"Stream"}],"max_tokens":5,"temperature":1,"seed":8,"n":3,"logprobs":true,"stream":true,"stream_options":{"include_usage":true}}""");

        var events = ChatCompletionsWireTests.SseEvents(body);
        Assert.Equal("[DONE]", events[^1]);
        var chunks = events[..^1].Select(e => JsonDocument.Parse(e).RootElement).ToList();
        Assert.Equal(15, chunks[^1].GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        var choices = chunks[..^1].Select(c => Assert.Single(c.GetProperty("choices").EnumerateArray())).ToList();
        for (var index = 0; index < 3; index++)
        {
            var own = choices.Where(c => c.GetProperty("index").GetInt32() == index).ToList();
            Assert.Equal("assistant", own[0].GetProperty("delta").GetProperty("role").GetString());
            Assert.Single(own, c => c.GetProperty("delta").TryGetProperty("role", out _));
            Assert.Equal("length", own[^1].GetProperty("finish_reason").GetString());
            Assert.Single(own, c => c.GetProperty("finish_reason").ValueKind != JsonValueKind.Null);
            var tokens = own.Where(c => c.TryGetProperty("logprobs", out var l) && l.ValueKind == JsonValueKind.Object)
                .SelectMany(c => c.GetProperty("logprobs").GetProperty("content").EnumerateArray()).ToList();
            Assert.Equal(5, tokens.Count);
            var text = string.Concat(own.Select(c => c.GetProperty("delta").TryGetProperty("content", out var piece) ? piece.GetString() : ""));
            Assert.Equal(text, string.Concat(tokens.Select(t => t.GetProperty("token").GetString())));
        }
    }

    [Fact]
    public async Task A_text_completion_of_two_choices_echoes_the_prompt_in_each_streamed_or_not()
    {
        using var json = JsonDocument.Parse(await OkAsync("/v1/completions",
            """{"model":"random","prompt":"Begin","max_tokens":4,"temperature":1,"seed":2,"n":2,"echo":true,"logprobs":1}"""));
        var streamed = await OkAsync("/v1/completions",
            """{"model":"random","prompt":"Begin","max_tokens":4,"temperature":1,"seed":2,"n":2,"echo":true,"stream":true,"stream_options":{"include_usage":true}}""");

        var choices = json.RootElement.GetProperty("choices").EnumerateArray().ToList();
        Assert.Equal([0, 1], choices.Select(c => c.GetProperty("index").GetInt32()));
        Assert.All(choices, c =>
        {
            Assert.StartsWith("Begin", c.GetProperty("text").GetString());
            Assert.Equal(4, c.GetProperty("logprobs").GetProperty("tokens").GetArrayLength());
        });
        Assert.Equal(8, json.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        var chunks = ChatCompletionsWireTests.SseEvents(streamed)[..^1].Select(e => JsonDocument.Parse(e).RootElement).ToList();
        Assert.Equal(8, chunks[^1].GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        var pieces = chunks[..^1].Select(c => Assert.Single(c.GetProperty("choices").EnumerateArray())).ToList();
        // The same seed: each streamed choice is the choice of the same index in the whole reply.
        for (var index = 0; index < 2; index++)
        {
            var own = pieces.Where(c => c.GetProperty("index").GetInt32() == index).ToList();
            Assert.Equal(choices[index].GetProperty("text").GetString(), string.Concat(own.Select(c => c.GetProperty("text").GetString())));
            Assert.Equal("length", own[^1].GetProperty("finish_reason").GetString());
        }
    }

    [Fact]
    public async Task A_text_completion_of_two_prompts_and_two_choices_lists_each_prompts_choices_in_OpenAIs_order_streamed_or_not()
    {
        string[] prompts = ["Begin", "Another start here"];
        const string request = """{"model":"random","prompt":["Begin","Another start here"],"max_tokens":3,"temperature":1,"seed":4,"n":2,"echo":true,"logprobs":1}""";
        using var json = JsonDocument.Parse(await OkAsync("/v1/completions", request));
        var streamed = await OkAsync("/v1/completions", request.Replace(""""logprobs":1"""", """"stream":true,"stream_options":{"include_usage":true}""""));
        var alone = new List<int>();
        foreach (var prompt in prompts)
        {
            using var one = JsonDocument.Parse(await OkAsync("/v1/completions", $$"""{"model":"random","prompt":"{{prompt}}","max_tokens":3}"""));
            alone.Add(one.RootElement.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        }

        var choices = json.RootElement.GetProperty("choices").EnumerateArray().ToList();
        Assert.Equal([0, 1, 2, 3], choices.Select(c => c.GetProperty("index").GetInt32()));
        for (var index = 0; index < 4; index++)
        {
            // Choice i of prompt p is p * n + i, and echoes its own prompt.
            var text = choices[index].GetProperty("text").GetString()!;
            Assert.StartsWith(prompts[index / 2], text);
            var logprobs = choices[index].GetProperty("logprobs");
            Assert.Equal(3, logprobs.GetProperty("tokens").GetArrayLength());
            Assert.Equal(text, prompts[index / 2] + string.Concat(logprobs.GetProperty("tokens").EnumerateArray().Select(t => t.GetString())));
            Assert.Equal(prompts[index / 2].Length, logprobs.GetProperty("text_offset")[0].GetInt32());
        }
        // Each prompt is read once for its two choices; usage is the sum over the prompts and every choice.
        var usage = json.RootElement.GetProperty("usage");
        Assert.Equal(alone.Sum(), usage.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(12, usage.GetProperty("completion_tokens").GetInt32());
        Assert.Equal(alone.Sum() + 12, usage.GetProperty("total_tokens").GetInt32());

        var chunks = ChatCompletionsWireTests.SseEvents(streamed)[..^1].Select(e => JsonDocument.Parse(e).RootElement).ToList();
        Assert.Equal(alone.Sum(), chunks[^1].GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(12, chunks[^1].GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        var pieces = chunks[..^1].Select(c => Assert.Single(c.GetProperty("choices").EnumerateArray())).ToList();
        for (var index = 0; index < 4; index++)
        {
            var own = pieces.Where(c => c.GetProperty("index").GetInt32() == index).ToList();
            Assert.Equal(prompts[index / 2], own[0].GetProperty("text").GetString());
            Assert.Equal("length", own[^1].GetProperty("finish_reason").GetString());
            Assert.Single(own, c => c.GetProperty("finish_reason").ValueKind != JsonValueKind.Null);
        }
    }

    [Fact]
    public async Task More_choices_than_the_model_serves_at_once_is_a_400_naming_n()
    {
        var (status, body) = await PostAsync("/v1/chat/completions",
            """{"model":"random","messages":[{"role":"user","content":"Hi"}],"max_tokens":2,"n":5}""");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        using var json = JsonDocument.Parse(body);
        Assert.Equal("n", json.RootElement.GetProperty("error").GetProperty("param").GetString());
    }
}
