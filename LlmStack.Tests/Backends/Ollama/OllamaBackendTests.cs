using System.Diagnostics;
using System.Net;
using LlmStack.Api.Configuration;
using LlmStack.Api.Errors;
using LlmStack.Api.Pipeline;
using LlmStack.Tests.Fixtures;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace LlmStack.Tests.Backends.Ollama;

/// <summary>One Ollama-protocol server and one API host serving a model per behaviour of that server.</summary>
public sealed class OllamaBackendFixture : IAsyncLifetime
{
    public OllamaTestServer Server { get; private set; } = null!;

    internal BackendHost Host { get; private set; } = null!;

    private Unreachable.SilentListener _silent = null!;

    public async ValueTask InitializeAsync()
    {
        // Every upstream model below but missing:7b is on the server.
        Server = await OllamaTestServer.StartAsync(
            "scripted:1b", "scripted:plain", "busy:1b", "broken:1b", "stalling:1b", "failing:1b", "truncating:1b",
            "holding:cancel", "holding:timeout");
        _silent = await Unreachable.SilentListener.StartAsync();
        var endpoint = Server.Endpoint.ToString();
        Host = new BackendHost(
            Model("qwen-test", endpoint, "scripted:1b", m => { m.Ollama.NumCtx = 8192; m.Ollama.KeepAlive = "30m"; }),
            Model("plain", endpoint, "scripted:plain"),
            Model("missing", endpoint, "missing:7b"),
            Model("busy", endpoint, "busy:1b"),
            Model("broken", endpoint, "broken:1b"),
            Model("stalling", endpoint, "stalling:1b"),
            Model("failing", endpoint, "failing:1b"),
            Model("truncating", endpoint, "truncating:1b"),
            Model("holding", endpoint, "holding:cancel"),
            Model("holding-timeout", endpoint, "holding:timeout", m => m.FirstTokenTimeout = TimeSpan.FromMilliseconds(500)),
            Model("refused", Unreachable.RefusingEndpoint().ToString(), "scripted:1b"),
            Model("silent", _silent.Endpoint.ToString(), "scripted:1b", m => m.ConnectTimeout = TimeSpan.FromMilliseconds(500)));
        _ = Host.Services;
    }

    private static ModelOptions Model(string id, string endpoint, string upstream, Action<ModelOptions>? configure = null) =>
        BackendHost.UpstreamModel("ollama", id, endpoint, upstream, configure);

    public async ValueTask DisposeAsync()
    {
        await Host.DisposeAsync();
        await Server.DisposeAsync();
        _silent.Dispose();
    }
}

public sealed class OllamaBackendTests(OllamaBackendFixture fixture) : IClassFixture<OllamaBackendFixture>
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private OllamaTestServer Server => fixture.Server;

    [Fact]
    public async Task A_text_completion_goes_to_generate_in_raw_mode_with_the_sampling_options()
    {
        var options = new ChatOptions { MaxOutputTokens = 3, Temperature = 0.3f, Seed = 9, StopSequences = ["\n"] };
        LlmStack.Api.Backends.LlmStackChatOptions.SetRawPrompt(options, suffix: null);

        var updates = await fixture.Host.ChatClient("qwen-test").GetStreamingResponseAsync("Once upon", options, Token).ToListAsync(Token).AsTask().WaitAsync(Bound, Token);

        Assert.Equal(OllamaTestServer.ReplyTokens.Take(3), updates.Select(u => u.Text).Where(t => t.Length > 0));
        Assert.Equal(ChatFinishReason.Length, updates[^1].FinishReason);
        var usage = Assert.Single(updates.SelectMany(u => u.Contents).OfType<UsageContent>()).Details;
        Assert.Equal("Once upon".Length, usage.InputTokenCount);
        Assert.Equal(3, usage.OutputTokenCount);
        var sent = Server.RequestsFor("/api/generate", "scripted:1b")[^1];
        Assert.Equal("Once upon", (string?)sent["prompt"]);
        Assert.True((bool?)sent["raw"]);
        Assert.Null(sent["suffix"]);
        Assert.Equal(0.3, (double)sent["options"]!["temperature"]!, 3);
        Assert.Equal(9, (int?)sent["options"]!["seed"]);
        Assert.Equal(8192, (int?)sent["options"]!["num_ctx"]);
        Assert.Equal("30m", (string?)sent["keep_alive"]);
        Assert.DoesNotContain(Server.RequestsFor("/api/chat", "scripted:1b"), r => r.ToJsonString().Contains("Once upon", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Log_probabilities_pass_through_from_ollama_for_text_completions_and_chats_streamed_or_not()
    {
        var options = new ChatOptions();
        LlmStack.Api.Backends.LlmStackChatOptions.SetLogprobs(options, 3);
        var raw = options.Clone();
        LlmStack.Api.Backends.LlmStackChatOptions.SetRawPrompt(raw, suffix: null);
        var client = fixture.Host.ChatClient("qwen-test");

        var completion = await client.GetResponseAsync("Once upon", raw, Token).WaitAsync(Bound, Token);
        var streamed = await client.GetStreamingResponseAsync("Once upon", raw, Token).ToListAsync(Token).AsTask().WaitAsync(Bound, Token);
        var chat = await client.GetResponseAsync("Hi", options, Token).WaitAsync(Bound, Token);
        var streamedChat = await client.GetStreamingResponseAsync("Hi", options, Token).ToListAsync(Token).AsTask().WaitAsync(Bound, Token);
        var plain = await client.GetResponseAsync("Hi", new ChatOptions(), Token).WaitAsync(Bound, Token);

        var sent = Server.RequestsFor("/api/generate", "scripted:1b")[^1];
        Assert.True((bool?)sent["logprobs"]);
        Assert.Equal(3, (int?)sent["top_logprobs"]);
        var chats = Server.RequestsFor("/api/chat", "scripted:1b");
        Assert.All(chats.TakeLast(3).Take(2), r =>
        {
            Assert.True((bool?)r["logprobs"]);
            Assert.Equal(3, (int?)r["top_logprobs"]);
            // The rest of the request is OllamaSharp's as always.
            Assert.Equal("Hi", (string?)r["messages"]![0]!["content"]);
            Assert.Equal(8192, (int?)r["options"]!["num_ctx"]);
        });
        Assert.Null(chats[^1]["logprobs"]);
        Assert.Empty(LlmStack.Api.Backends.TokenLogprobsContent.In(plain.Messages.SelectMany(m => m.Contents)));
        // Each streamed token's log probability rides on the update of its own text.
        Assert.All(streamed.Concat(streamedChat).Where(u => u.Text.Length > 0), u =>
            Assert.Equal(u.Text, Assert.Single(LlmStack.Api.Backends.TokenLogprobsContent.In(u.Contents)).Token));
        foreach (var (text, contents) in new[]
        {
            (completion.Text, completion.Messages.SelectMany(m => m.Contents)),
            (string.Concat(streamed.Select(u => u.Text)), streamed.SelectMany(u => u.Contents)),
            (chat.Text, chat.Messages.SelectMany(m => m.Contents)),
            (string.Concat(streamedChat.Select(u => u.Text)), streamedChat.SelectMany(u => u.Contents)),
        })
        {
            var tokens = LlmStack.Api.Backends.TokenLogprobsContent.In(contents);
            Assert.Equal(string.Concat(OllamaTestServer.ReplyTokens), text);
            Assert.Equal(text, string.Concat(tokens.Select(t => t.Token)));
            Assert.All(tokens, token =>
            {
                Assert.True(token.Logprob <= 0, $"{token.Token}: {token.Logprob}");
                Assert.Equal(System.Text.Encoding.UTF8.GetBytes(token.Token), token.Bytes);
                Assert.Equal(3, token.Top.Count);
                Assert.Equal(token.Top.OrderByDescending(t => t.Logprob).Select(t => t.Token), token.Top.Select(t => t.Token));
                Assert.Contains(token.Top, t => t.Token == token.Token && t.Logprob == token.Logprob);
            });
        }
    }

    [Fact]
    public async Task A_text_completion_of_two_prompts_and_two_choices_is_one_generate_call_each_with_the_seed_plus_the_choice()
    {
        var options = new ChatOptions { MaxOutputTokens = 2, Seed = 5 };
        LlmStack.Api.Backends.LlmStackChatOptions.SetRawPrompt(options, suffix: null);
        LlmStack.Api.Backends.LlmStackChatOptions.SetChoices(options, 4);
        List<ChatMessage> prompts = [new(ChatRole.User, "Fan one"), new(ChatRole.User, "Fan two!")];
        var client = fixture.Host.ChatClient("qwen-test");
        var before = Server.RequestsFor("/api/generate", "scripted:1b").Count;

        var whole = await client.GetResponseAsync(prompts, options, Token).WaitAsync(Bound, Token);
        var streamed = await client.GetStreamingResponseAsync(prompts, options, Token).ToListAsync(Token).AsTask().WaitAsync(Bound, Token);

        var sent = Server.RequestsFor("/api/generate", "scripted:1b").Skip(before).ToList();
        Assert.Equal(8, sent.Count);
        Assert.Equal(
            ["Fan one/5", "Fan one/5", "Fan one/6", "Fan one/6", "Fan two!/5", "Fan two!/5", "Fan two!/6", "Fan two!/6"],
            sent.Select(r => $"{(string?)r["prompt"]}/{(int?)r["options"]!["seed"]}").Order(StringComparer.Ordinal));
        var reply = string.Concat(OllamaTestServer.ReplyTokens.Take(2));
        var choices = LlmStack.Api.Backends.LlmStackChatOptions.ChoicesOf(whole);
        Assert.Equal(4, choices.Count);
        Assert.All(choices, c => Assert.Equal(reply, c.Text));
        Assert.Equal(2 * ("Fan one".Length + "Fan two!".Length), whole.Usage!.InputTokenCount);
        Assert.Equal(8, whole.Usage.OutputTokenCount);
        for (var index = 0; index < 4; index++)
        {
            var own = streamed.Where(u => LlmStack.Api.Backends.LlmStackChatOptions.ChoiceOf(u) == index && !u.Contents.OfType<UsageContent>().Any()).ToList();
            Assert.Equal(reply, string.Concat(own.Select(u => u.Text)));
            Assert.Equal(ChatFinishReason.Length, Assert.Single(own, u => u.FinishReason is not null).FinishReason);
        }
        Assert.Equal(8, Assert.Single(streamed.SelectMany(u => u.Contents).OfType<UsageContent>()).Details.OutputTokenCount);
    }

    [Fact]
    public async Task A_chat_of_two_choices_is_one_chat_call_each_with_the_seed_plus_the_choice()
    {
        var options = new ChatOptions { MaxOutputTokens = 3, Seed = 20 };
        LlmStack.Api.Backends.LlmStackChatOptions.SetChoices(options, 2);
        var client = fixture.Host.ChatClient("qwen-test");
        var before = Server.RequestsFor("/api/chat", "scripted:1b").Count;

        var whole = await client.GetResponseAsync("Two ways", options, Token).WaitAsync(Bound, Token);
        var streamed = await client.GetStreamingResponseAsync("Two ways", options, Token).ToListAsync(Token).AsTask().WaitAsync(Bound, Token);

        var sent = Server.RequestsFor("/api/chat", "scripted:1b").Skip(before).ToList();
        Assert.Equal([20, 20, 21, 21], sent.Select(r => (int)r["options"]!["seed"]!).Order());
        Assert.All(sent, r => Assert.Equal("Two ways", (string?)r["messages"]![0]!["content"]));
        var reply = string.Concat(OllamaTestServer.ReplyTokens.Take(3));
        Assert.Equal([reply, reply], LlmStack.Api.Backends.LlmStackChatOptions.ChoicesOf(whole).Select(c => c.Text));
        Assert.Equal(6, whole.Usage!.OutputTokenCount);
        Assert.Equal([0, 1], streamed.Where(u => u.FinishReason is not null).Select(LlmStack.Api.Backends.LlmStackChatOptions.ChoiceOf).Order());
        Assert.Equal(reply, string.Concat(streamed.Where(u => LlmStack.Api.Backends.LlmStackChatOptions.ChoiceOf(u) == 1).Select(u => u.Text)));
    }

    [Fact]
    public async Task A_chat_completion_with_logprobs_lists_each_of_ollamas_tokens_with_its_alternatives()
    {
        using var http = fixture.Host.CreateClient();

        using var response = await http.PostAsync("/v1/chat/completions", new StringContent(
            """{"model":"qwen-test","messages":[{"role":"user","content":"Hi"}],"logprobs":true,"top_logprobs":2}""",
            System.Text.Encoding.UTF8, "application/json"), Token).WaitAsync(Bound, Token);
        using var json = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync(Token));

        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        var tokens = json.RootElement.GetProperty("choices")[0].GetProperty("logprobs").GetProperty("content").EnumerateArray().ToList();
        Assert.Equal(OllamaTestServer.ReplyTokens, tokens.Select(t => t.GetProperty("token").GetString()));
        Assert.All(tokens, t =>
        {
            Assert.True(t.GetProperty("logprob").GetDouble() < 0);
            Assert.Equal(2, t.GetProperty("top_logprobs").GetArrayLength());
            Assert.Equal(t.GetProperty("token").GetString(), t.GetProperty("top_logprobs")[0].GetProperty("token").GetString());
        });
    }

    [Fact]
    public async Task A_completion_with_a_suffix_goes_through_the_models_template_with_the_suffix()
    {
        var options = new ChatOptions();
        LlmStack.Api.Backends.LlmStackChatOptions.SetRawPrompt(options, suffix: "return x");

        var response = await fixture.Host.ChatClient("plain").GetResponseAsync("def f(x):", options, Token).WaitAsync(Bound, Token);

        Assert.Equal(string.Concat(OllamaTestServer.ReplyTokens), response.Text);
        Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
        var sent = Server.RequestsFor("/api/generate", "scripted:plain")[^1];
        Assert.Equal("return x", (string?)sent["suffix"]);
        Assert.NotEqual(true, (bool?)sent["raw"]);
    }

    [Fact]
    public async Task Streamed_reply_arrives_line_by_line_with_usage_and_finish_reason()
    {
        const string prompt = "Say hello, stream 1.";
        var updates = await fixture.Host.ChatClient("qwen-test")
            .GetStreamingResponseAsync(prompt, cancellationToken: Token).ToListAsync(Token).AsTask().WaitAsync(Bound, Token);

        var texts = updates.Select(u => u.Text).Where(t => t.Length > 0).ToList();
        Assert.Equal(OllamaTestServer.ReplyTokens, texts);
        var usage = updates.SelectMany(u => u.Contents).OfType<UsageContent>().Single().Details;
        Assert.Equal(prompt.Length, usage.InputTokenCount);
        Assert.Equal(OllamaTestServer.ReplyTokens.Length, usage.OutputTokenCount);
        Assert.Equal(ChatFinishReason.Stop, updates.Last(u => u.FinishReason is not null).FinishReason);
    }

    [Fact]
    public async Task Non_streamed_reply_carries_the_whole_text_and_usage()
    {
        const string prompt = "Say hello, in one piece.";
        var response = await fixture.Host.ChatClient("qwen-test").GetResponseAsync(prompt, cancellationToken: Token).WaitAsync(Bound, Token);

        Assert.Equal(string.Concat(OllamaTestServer.ReplyTokens), response.Text);
        Assert.Equal(prompt.Length, response.Usage?.InputTokenCount);
        Assert.Equal(OllamaTestServer.ReplyTokens.Length, response.Usage?.OutputTokenCount);
        Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
        Assert.False(Server.RequestsFor("/api/chat", "scripted:1b").Single(r => Prompt(r) == prompt)["stream"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Model_settings_and_request_options_reach_ollama()
    {
        const string prompt = "Which options arrive?";
        var options = new ChatOptions
        {
            ModelId = "qwen-test",
            Temperature = 0.25f,
            TopP = 0.5f,
            Seed = 42,
            StopSequences = ["END"],
            MaxOutputTokens = 3,
        };
        var response = await fixture.Host.ChatClient("qwen-test").GetResponseAsync(prompt, options, Token).WaitAsync(Bound, Token);

        var request = Server.RequestsFor("/api/chat", "scripted:1b").Single(r => Prompt(r) == prompt);
        Assert.Equal("30m", (string?)request["keep_alive"]);
        var sent = request["options"]!;
        Assert.Equal(8192, (int?)sent["num_ctx"]);
        Assert.Equal(0.25, (double)sent["temperature"]!, 3);
        Assert.Equal(0.5, (double)sent["top_p"]!, 3);
        Assert.Equal(42, (int?)sent["seed"]);
        Assert.Equal(["END"], sent["stop"]!.AsArray().Select(s => (string?)s));
        Assert.Equal(3, (int?)sent["num_predict"]);
        // The server honoured num_predict, and the backend reports why the reply ended.
        Assert.Equal(string.Concat(OllamaTestServer.ReplyTokens.Take(3)), response.Text);
        Assert.Equal(ChatFinishReason.Length, response.FinishReason);
    }

    [Fact]
    public async Task A_model_without_settings_sends_neither_num_ctx_nor_keep_alive()
    {
        const string prompt = "No settings here.";
        await fixture.Host.ChatClient("plain").GetResponseAsync(prompt, cancellationToken: Token).WaitAsync(Bound, Token);

        var request = Server.RequestsFor("/api/chat", "scripted:plain").Single(r => Prompt(r) == prompt);
        Assert.Null(request["keep_alive"]);
        Assert.Null(request["options"]?["num_ctx"]);
    }

    [Fact]
    public async Task Embeddings_come_back_in_input_order()
    {
        var generator = fixture.Host.Model("qwen-test").EmbeddingGenerator!;
        var embeddings = await generator.GenerateAsync(["a", "three"], cancellationToken: Token).WaitAsync(Bound, Token);

        Assert.Equal([[1f, 0.5f, -1f], [5f, 0.5f, -1f]], embeddings.Select(e => e.Vector.ToArray()));
        Assert.Equal("scripted:1b", (string?)Server.RequestsFor("/api/embed", "scripted:1b").Last()["model"]);
    }

    [Fact]
    public async Task Embedding_with_a_model_not_pulled_is_a_model_loading_error()
    {
        var error = await Assert.ThrowsAsync<ApiErrorException>(() =>
            fixture.Host.Model("missing").EmbeddingGenerator!.GenerateAsync(["a"], cancellationToken: Token).WaitAsync(Bound, Token));

        Assert.Equal(503, error.StatusCode);
        Assert.Equal("model_loading", error.Code);
        Assert.Equal(ApiErrorException.ModelLoadingRetryAfter, error.RetryAfter);
    }

    [Fact]
    public async Task A_pulled_model_is_ready_and_reports_its_configured_context_length()
    {
        var model = fixture.Host.Model("qwen-test");
        var result = await model.CheckReadyAsync(Token).WaitAsync(Bound, Token);

        Assert.Equal(HealthStatus.Healthy, result.Status);
        Assert.Equal(8192, model.ContextLength);
    }

    [Fact]
    public void Without_NumCtx_the_context_length_is_learned_from_api_show_at_start() =>
        Assert.Equal(6144, fixture.Host.Model("plain").ContextLength);

    [Fact]
    public async Task Models_answer_the_same_before_and_after_a_readiness_probe()
    {
        using var client = fixture.Host.CreateClient();

        var before = await client.GetStringAsync("/v1/models", Token).WaitAsync(Bound, Token);
        using var readiness = await client.GetAsync("/readyz", Token).WaitAsync(Bound, Token);
        var after = await client.GetStringAsync("/v1/models", Token).WaitAsync(Bound, Token);

        Assert.Equal(before, after);
        Assert.Contains("\"context_length\":6144", before);
    }

    [Fact]
    public void A_model_Ollama_cannot_describe_at_start_has_no_context_length() =>
        Assert.Null(fixture.Host.Model("refused").ContextLength);

    [Fact]
    public async Task A_model_not_pulled_is_not_ready_and_says_so()
    {
        var result = await fixture.Host.Model("missing").CheckReadyAsync(Token).WaitAsync(Bound, Token);

        Assert.Equal(HealthStatus.Unhealthy, result.Status);
        Assert.StartsWith("model missing:7b is not pulled yet", result.Description);
    }

    [Fact]
    public async Task An_unreachable_server_is_not_ready_and_says_why()
    {
        var stopwatch = Stopwatch.StartNew();
        var result = await fixture.Host.Model("refused").CheckReadyAsync(Token).WaitAsync(Bound, Token);

        Assert.Equal(HealthStatus.Unhealthy, result.Status);
        Assert.Contains("is unreachable: Connection refused", result.Description);
        // Refused connections are not retried: the answer comes at once, not after a retry schedule.
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(3), $"took {stopwatch.Elapsed}");
    }

    [Fact]
    public async Task Readyz_names_each_model_state()
    {
        using var client = fixture.Host.CreateClient();
        using var response = await client.GetAsync("/readyz", Token).WaitAsync(Bound, Token);
        var body = await response.Content.ReadAsStringAsync(Token);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Contains("model missing:7b is not pulled yet", body);
        Assert.Contains("model scripted:1b is pulled", body);
        // OpenAI's envelope and a time to come back, as for any other 503.
        Assert.Equal(TimeSpan.FromSeconds(5), response.Headers.RetryAfter?.Delta);
        var error = System.Text.Json.Nodes.JsonNode.Parse(body)!["error"]!;
        Assert.Equal("not_ready", (string?)error["code"]);
        Assert.Equal("server_error", (string?)error["type"]);
        Assert.Contains("missing", (string?)error["message"]);
    }

    public static TheoryData<string, bool, int, string> Failures => new()
    {
        // Ollama lacks a model it has not pulled yet: the API says "loading", not "no such model".
        { "missing", true, 503, "model_loading" },
        { "missing", false, 503, "model_loading" },
        { "busy", true, 429, "rate_limit_exceeded" },
        { "busy", false, 429, "rate_limit_exceeded" },
        { "broken", true, 502, "backend_error" },
        { "broken", false, 502, "backend_error" },
        { "refused", true, 503, "backend_unavailable" },
        { "refused", false, 503, "backend_unavailable" },
        { "silent", true, 504, "backend_timeout" },
        { "truncating", true, 502, "backend_error" },
        { "holding-timeout", true, 504, "backend_timeout" },
        { "holding-timeout", false, 504, "backend_timeout" },
    };

    [Theory]
    [MemberData(nameof(Failures))]
    public async Task Backend_failures_become_api_errors(string model, bool stream, int status, string code)
    {
        var error = await fixture.Host.ChatErrorAsync(model, stream, Bound);

        Assert.Equal(status, error.StatusCode);
        Assert.Equal(code, error.Code);
    }

    [Fact]
    public async Task Upstream_messages_and_retry_after_are_kept()
    {
        var missing = await fixture.Host.ChatErrorAsync("missing", stream: false, Bound);
        var busy = await fixture.Host.ChatErrorAsync("busy", stream: false, Bound);
        var broken = await fixture.Host.ChatErrorAsync("broken", stream: false, Bound);

        Assert.Contains("model 'missing:7b' not found", missing.Message);
        Assert.StartsWith("The model 'missing' is loading:", missing.Message);
        Assert.Equal(ApiErrorException.ModelLoadingRetryAfter, missing.RetryAfter);
        Assert.Equal(TimeSpan.FromSeconds(7), busy.RetryAfter);
        Assert.Contains("llama runner process has terminated", broken.Message);
    }

    [Fact]
    public async Task An_error_line_in_the_stream_becomes_a_backend_error_with_ollamas_message()
    {
        var error = await fixture.Host.ChatErrorAsync("failing", stream: true, Bound);

        Assert.Equal(502, error.StatusCode);
        Assert.Contains("an error was encountered while running the model", error.Message);
    }

    [Fact]
    public async Task The_first_token_timeout_frees_the_server()
    {
        await fixture.Host.ChatErrorAsync("holding-timeout", stream: true, Bound);

        await Server.Abandoned("holding:timeout").WaitAsync(Bound, Token);
    }

    [Fact]
    public async Task Canceling_while_ollama_holds_the_prompt_stops_at_once_and_frees_the_server()
    {
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(Token);
        var consuming = fixture.Host.ChatClient("holding")
            .GetStreamingResponseAsync("A long prompt to process.", cancellationToken: cancel.Token).ToListAsync(cancel.Token).AsTask();
        await Server.Holding("holding:cancel").WaitAsync(Bound, Token);

        var stopwatch = Stopwatch.StartNew();
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => consuming.WaitAsync(Bound, Token));
        await Server.Abandoned("holding:cancel").WaitAsync(Bound, Token);

        // Without the fix the call waits for a line that never comes; 5 s leaves room for a loaded CI machine.
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(5), $"took {stopwatch.Elapsed}");
    }

    [Fact]
    public async Task Canceling_a_stalled_stream_ends_it_at_once_and_frees_the_server()
    {
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(Token);
        var received = 0;
        var consuming = Task.Run(async () =>
        {
            await foreach (var update in fixture.Host.ChatClient("stalling")
                               .GetStreamingResponseAsync("Think hard.", cancellationToken: cancel.Token))
            {
                if (update.Text.Length > 0 && ++received == 2)
                {
                    // Later, so that the cancellation meets a read waiting for the next line (canceling here,
                    // between two lines, would only test OllamaSharp's own check of the token).
                    cancel.CancelAfter(TimeSpan.FromMilliseconds(200));
                }
            }
        }, Token);

        // OllamaSharp alone would wait for a third line that never comes.
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => consuming.WaitAsync(TimeSpan.FromSeconds(5), Token));
        await Server.Abandoned("stalling:1b").WaitAsync(Bound, Token);
        Assert.Equal(2, received);
    }

    [Theory]
    [InlineData("30m", "30m")]
    [InlineData("1h30m", "1h30m")]
    [InlineData("-1", "-1s")]
    [InlineData("300", "300s")]
    [InlineData("0", "0s")]
    [InlineData("forever", null)]
    [InlineData("5 minutes", null)]
    public void KeepAlive_is_sent_as_a_duration_ollama_parses(string configured, string? sent) =>
        Assert.Equal(sent, LlmStack.Api.Backends.Ollama.OllamaBackend.KeepAliveFor(configured));

    private static string? Prompt(System.Text.Json.Nodes.JsonObject request) =>
        (string?)request["messages"]!.AsArray().Last()!["content"];
}
