using System.Text.Json;
using LlmStack.Api.Configuration;
using LlmStack.Gguf;
using LlmStack.Tests.Fixtures;

namespace LlmStack.Tests.Api.Completions;

/// <summary>
/// The official <c>openai</c> npm package (<c>completions.create</c> streamed and not, with <c>echo</c>, <c>logprobs</c>
/// and <c>n</c>; chat with <c>logprobs</c>/<c>top_logprobs</c> and <c>n</c>) and LangChain's completion model
/// (<c>@langchain/openai</c> <c>OpenAI</c>) against a random-weight model that always writes its full length. Each test
/// runs one scenario of <c>Node/completions.mjs</c> and checks what that client observed.
/// </summary>
public sealed class CompletionsNodeSdkTests(CompletionsNodeSdkTests.Server server) : IClassFixture<CompletionsNodeSdkTests.Server>
{
    private Task<JsonElement> RunAsync(string scenario) => NodeClient.RunAsync("completions.mjs", scenario, server.App.OpenAIEndpoint);

    [Fact]
    public async Task A_completion_echoes_the_prompt_and_lists_its_tokens_logprobs()
    {
        var result = await RunAsync("completion");

        var choice = Assert.Single(result.GetProperty("choices").EnumerateArray());
        var text = choice.GetProperty("text").GetString()!;
        Assert.StartsWith("Hello", text);
        Assert.Equal("length", choice.GetProperty("finish_reason").GetString());
        var logprobs = choice.GetProperty("logprobs");
        var tokens = logprobs.GetProperty("tokens").EnumerateArray().Select(t => t.GetString()!).ToList();
        Assert.Equal(5, tokens.Count);
        Assert.Equal(text, "Hello" + string.Concat(tokens));
        // Greedy: each chosen token is the most likely of its alternatives.
        var chosen = logprobs.GetProperty("token_logprobs").EnumerateArray().Select(l => l.GetDouble()).ToList();
        var tops = logprobs.GetProperty("top_logprobs").EnumerateArray().ToList();
        for (var i = 0; i < tokens.Count; i++)
        {
            Assert.True(chosen[i] <= 0);
            Assert.Equal(tops[i].EnumerateObject().Max(p => p.Value.GetDouble()), chosen[i]);
        }
        Assert.Equal(5, result.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task A_streamed_completion_of_two_choices_matches_the_whole_one_choice_by_choice()
    {
        var result = await RunAsync("completionStream");

        var whole = result.GetProperty("whole").EnumerateArray().Select(t => t.GetString()).ToList();
        Assert.Equal(2, whole.Count);
        Assert.Equal(whole, [result.GetProperty("texts").GetProperty("0").GetString(), result.GetProperty("texts").GetProperty("1").GetString()]);
        Assert.Equal("length", result.GetProperty("finish").GetProperty("0").GetString());
        Assert.Equal("length", result.GetProperty("finish").GetProperty("1").GetString());
        Assert.Equal(12, result.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.True(result.GetProperty("chunks").GetInt32() > 4);
    }

    [Fact]
    public async Task Four_completion_choices_with_a_seed_differ_and_sum_their_usage()
    {
        var result = await RunAsync("completionChoices");

        var choices = result.GetProperty("choices").EnumerateArray().ToList();
        Assert.Equal([0, 1, 2, 3], choices.Select(c => c.GetProperty("index").GetInt32()));
        Assert.Equal(4, choices.Select(c => c.GetProperty("text").GetString()).Distinct().Count());
        Assert.All(choices, c => Assert.Equal("length", c.GetProperty("finish_reason").GetString()));
        var usage = result.GetProperty("usage");
        Assert.Equal(32, usage.GetProperty("completion_tokens").GetInt32());
        Assert.Equal(usage.GetProperty("prompt_tokens").GetInt32() + 32, usage.GetProperty("total_tokens").GetInt32());
    }

    [Fact]
    public async Task A_chat_of_two_choices_carries_each_choices_logprobs_and_top_logprobs()
    {
        var result = await RunAsync("chatLogprobs");

        var choices = result.GetProperty("choices").EnumerateArray().ToList();
        Assert.Equal([0, 1], choices.Select(c => c.GetProperty("index").GetInt32()));
        Assert.All(choices, choice =>
        {
            var tokens = choice.GetProperty("logprobs").GetProperty("content").EnumerateArray().ToList();
            Assert.Equal(4, tokens.Count);
            Assert.Equal(choice.GetProperty("content").GetString(), string.Concat(tokens.Select(t => t.GetProperty("token").GetString())));
            Assert.All(tokens, token =>
            {
                Assert.True(token.GetProperty("logprob").GetDouble() <= 0);
                var top = token.GetProperty("top_logprobs").EnumerateArray().Select(t => t.GetProperty("logprob").GetDouble()).ToList();
                Assert.Equal(3, top.Count);
                Assert.Equal(top.OrderDescending(), top);
            });
        });
        Assert.Equal(8, result.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task A_streamed_chat_of_three_choices_reaches_the_client_by_index_with_logprobs()
    {
        var result = await RunAsync("chatStream");

        for (var index = 0; index < 3; index++)
        {
            var key = index.ToString(System.Globalization.CultureInfo.InvariantCulture);
            var tokens = result.GetProperty("tokens").GetProperty(key).EnumerateArray().ToList();
            Assert.Equal(5, tokens.Count);
            Assert.Equal(result.GetProperty("contents").GetProperty(key).GetString(), string.Concat(tokens.Select(t => t.GetProperty("token").GetString())));
            Assert.Equal("length", result.GetProperty("finish").GetProperty(key).GetString());
        }
        Assert.Equal(15, result.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task LangChains_completion_model_invokes_streams_and_generates()
    {
        var result = await RunAsync("langchain");

        var invoked = result.GetProperty("invoked").GetString();
        Assert.False(string.IsNullOrEmpty(invoked));
        // Greedy: the same prompt gives the same text however it is asked.
        Assert.Equal(invoked, result.GetProperty("streamed").GetString());
        // Two prompts in one request (OpenAI's prompt array): the first is the same greedy text.
        var generated = result.GetProperty("generated").EnumerateArray().Select(g => g.GetString()).ToList();
        Assert.Equal(2, generated.Count);
        Assert.Equal(invoked, generated[0]);
        Assert.False(string.IsNullOrEmpty(generated[1]));
        Assert.All(result.GetProperty("finish").EnumerateArray(), f => Assert.Equal("length", f.GetString()));
    }

    [Fact]
    public async Task A_completion_of_two_prompts_lists_each_prompts_choices_in_order_streamed_or_not()
    {
        var result = await RunAsync("completionPrompts");

        string[] prompts = ["Hello", "Goodbye now"];
        var choices = result.GetProperty("choices").EnumerateArray().ToList();
        Assert.Equal([0, 1, 2, 3], choices.Select(c => c.GetProperty("index").GetInt32()));
        var streamed = result.GetProperty("streamed");
        for (var index = 0; index < 4; index++)
        {
            var key = index.ToString(System.Globalization.CultureInfo.InvariantCulture);
            // Choice i of prompt p is p * n + i, echoing its prompt.
            Assert.StartsWith(prompts[index / 2], choices[index].GetProperty("text").GetString());
            Assert.Equal("length", choices[index].GetProperty("finish_reason").GetString());
            Assert.StartsWith(prompts[index / 2], streamed.GetProperty("texts").GetProperty(key).GetString());
            Assert.Equal("length", streamed.GetProperty("finish").GetProperty(key).GetString());
        }
        Assert.Equal(12, result.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.Equal(12, streamed.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.Equal(result.GetProperty("usage").GetProperty("prompt_tokens").GetInt32(), streamed.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
    }

    public sealed class Server : IAsyncLifetime
    {
        private readonly string _path = Path.Combine(Path.GetTempPath(), $"llmstack-completions-node-{Guid.NewGuid():N}.gguf");

        public ApiApplication App { get; private set; } = null!;

        public ValueTask InitializeAsync()
        {
            RandomModel.Write(_path, new RandomModelSpec { AsciiOnly = true, SuppressEndOfTurn = true });
            App = new ApiApplication([new ModelOptions { Id = "random", Backend = "embedded", Path = _path, Embedded = new() { ParallelSlots = 4 } }]);
            _ = App.BaseAddress;
            return ValueTask.CompletedTask;
        }

        public async ValueTask DisposeAsync()
        {
            await App.DisposeAsync();
            File.Delete(_path);
        }
    }
}
