using System.ClientModel;
using LlmStack.Api.Configuration;
using LlmStack.Api.Errors;
using LlmStack.Api.Pipeline;
using LlmStack.Tests.Fixtures;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using OpenAI;

namespace LlmStack.Tests.Backends.OpenAI;

/// <summary>
/// A real OpenAI-compatible upstream (a second LlmStack API running a generated model through llama.cpp), a
/// failing fake one, and the API under test serving models from both on the openai backend.
/// </summary>
public sealed class OpenAIBackendFixture(GeneratedModels generated) : IAsyncLifetime
{
    public const string UpstreamId = "upstream-scripted";

    public ApiApplication Upstream { get; private set; } = null!;

    public FakeOpenAIServer Fake { get; private set; } = null!;

    internal BackendHost Host { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        Upstream = new ApiApplication([new ModelOptions { Id = UpstreamId, Backend = "embedded", Path = generated.Scripted }]);
        Fake = await FakeOpenAIServer.StartAsync();
        var fake = Fake.Endpoint.ToString();
        Host = new BackendHost(
            [
                Model("chained", Upstream.OpenAIEndpoint.ToString(), UpstreamId),
                Model("unlisted", Upstream.OpenAIEndpoint.ToString(), "not-served-there"),
                .. FakeOpenAIServer.ListedModels.Where(id => id != "holding").Select(id => Model(id, fake, id)),
                Model("holding", fake, "holding", m => m.FirstTokenTimeout = TimeSpan.FromMilliseconds(500)),
                Model("holding-patiently", fake, "holding", m => m.FirstTokenTimeout = TimeSpan.FromSeconds(30)),
                Model("refused", Unreachable.RefusingEndpoint().ToString(), "anything"),
            ]);
        _ = Host.BaseAddress;
    }

    private static ModelOptions Model(string id, string endpoint, string upstream, Action<ModelOptions>? configure = null) =>
        BackendHost.UpstreamModel("openai", id, endpoint, upstream, configure);

    public async ValueTask DisposeAsync()
    {
        await Host.DisposeAsync();
        await Upstream.DisposeAsync();
        await Fake.DisposeAsync();
    }
}

public sealed class OpenAIBackendTests(OpenAIBackendFixture fixture) : IClassFixture<OpenAIBackendFixture>
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task The_chain_api_to_api_to_llama_cpp_streams_the_exact_text()
    {
        // An OpenAI client of the API under test, whose model lives on another LlmStack API's llama.cpp.
        var client = new OpenAIClient(new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = fixture.Host.OpenAIEndpoint })
            .GetChatClient("chained");
        var pieces = new List<string>();
        var stream = client.CompleteChatStreamingAsync([new global::OpenAI.Chat.UserChatMessage("Hello?")], cancellationToken: Token);
        await foreach (var update in stream.WithCancellation(Token))
        {
            pieces.AddRange(update.ContentUpdate.Select(part => part.Text).Where(text => text.Length > 0));
        }

        Assert.Equal(GeneratedModels.ScriptedReply, string.Concat(pieces));
        // Token by token all the way through: the middle API passes every piece on as it comes.
        Assert.Equal(GeneratedModels.PiecesOf(GeneratedModels.ScriptedReply), pieces);
    }

    [Fact]
    public async Task A_text_completion_goes_to_the_upstreams_completions_as_a_raw_prompt()
    {
        var options = new ChatOptions { MaxOutputTokens = 5 };
        LlmStack.Api.Backends.LlmStackChatOptions.SetRawPrompt(options, suffix: null);
        var direct = await fixture.Upstream.Services.GetRequiredService<ModelCatalog>().Models.Single().ChatClient
            .GetResponseAsync("Once upon a time", options, Token).WaitAsync(Bound, Token);

        var streamed = await fixture.Host.ChatClient("chained").GetStreamingResponseAsync("Once upon a time", options, Token)
            .ToListAsync(Token).AsTask().WaitAsync(Bound, Token);
        var whole = await fixture.Host.ChatClient("chained").GetResponseAsync("Once upon a time", options, Token).WaitAsync(Bound, Token);

        var pieces = GeneratedModels.PiecesOf(GeneratedModels.ScriptedReply).Take(5).ToList();
        Assert.Equal(pieces, streamed.Select(u => u.Text).Where(t => t.Length > 0));
        Assert.Equal(ChatFinishReason.Length, streamed.Last(u => u.FinishReason is not null).FinishReason);
        Assert.Equal(string.Concat(pieces), whole.Text);
        Assert.Equal(ChatFinishReason.Length, whole.FinishReason);
        // The upstream tokenized the prompt as it was written: as many tokens as the raw prompt there, no chat template.
        Assert.Equal(direct.Usage!.InputTokenCount, whole.Usage!.InputTokenCount);
        Assert.Equal(direct.Usage.InputTokenCount, streamed.SelectMany(u => u.Contents).OfType<UsageContent>().Single().Details.InputTokenCount);
    }

    [Fact]
    public async Task Log_probabilities_pass_through_from_the_upstream_for_chats_and_text_completions_streamed_or_not()
    {
        var options = new ChatOptions { MaxOutputTokens = 4, Temperature = 0 };
        LlmStack.Api.Backends.LlmStackChatOptions.SetLogprobs(options, 2);
        var raw = options.Clone();
        LlmStack.Api.Backends.LlmStackChatOptions.SetRawPrompt(raw, suffix: null);
        var client = fixture.Host.ChatClient("chained");

        var whole = await client.GetResponseAsync("Hi", options, Token).WaitAsync(Bound, Token);
        var streamed = await client.GetStreamingResponseAsync("Hi", options, Token).ToListAsync(Token).AsTask().WaitAsync(Bound, Token);
        var completion = await client.GetResponseAsync("Once upon a time", raw, Token).WaitAsync(Bound, Token);
        var streamedCompletion = await client.GetStreamingResponseAsync("Once upon a time", raw, Token).ToListAsync(Token).AsTask().WaitAsync(Bound, Token);

        var tokens = LlmStack.Api.Backends.TokenLogprobsContent.In(whole.Messages.SelectMany(m => m.Contents));
        Assert.Equal(4, tokens.Count);
        Assert.Equal(whole.Text, string.Concat(tokens.Select(t => t.Token)));
        Assert.All(tokens, token =>
        {
            Assert.True(token.Logprob <= 0);
            Assert.Equal(2, token.Top.Count);
            // Greedy: each chosen token is the most likely one.
            Assert.Equal(token.Token, token.Top[0].Token);
        });
        Assert.Equal(tokens.Select(t => t.Token), LlmStack.Api.Backends.TokenLogprobsContent.In(streamed.SelectMany(u => u.Contents)).Select(t => t.Token));
        foreach (var text in (IEnumerable<IEnumerable<AIContent>>)[completion.Messages.SelectMany(m => m.Contents), streamedCompletion.SelectMany(u => u.Contents)])
        {
            var completionTokens = LlmStack.Api.Backends.TokenLogprobsContent.In(text);
            Assert.Equal(4, completionTokens.Count);
            Assert.Equal(completion.Text, string.Concat(completionTokens.Select(t => t.Token)));
            Assert.All(completionTokens, token => Assert.Equal(token.Top[0].Logprob, token.Logprob, 6));
        }
    }

    [Fact]
    public async Task A_text_completion_of_several_prompts_and_choices_is_one_upstream_completion_per_prompt_and_choice()
    {
        var options = new ChatOptions { MaxOutputTokens = 3 };
        LlmStack.Api.Backends.LlmStackChatOptions.SetRawPrompt(options, suffix: null);
        LlmStack.Api.Backends.LlmStackChatOptions.SetChoices(options, 4);
        var single = new ChatOptions { MaxOutputTokens = 3 };
        LlmStack.Api.Backends.LlmStackChatOptions.SetRawPrompt(single, suffix: null);
        var upstream = fixture.Upstream.Services.GetRequiredService<ModelCatalog>().Models.Single().ChatClient;
        var first = await upstream.GetResponseAsync("Once upon a time", single, Token).WaitAsync(Bound, Token);
        var second = await upstream.GetResponseAsync("Hi", single, Token).WaitAsync(Bound, Token);
        List<ChatMessage> prompts = [new(ChatRole.User, "Once upon a time"), new(ChatRole.User, "Hi")];
        var client = fixture.Host.ChatClient("chained");

        var whole = await client.GetResponseAsync(prompts, options, Token).WaitAsync(Bound, Token);
        var streamed = await client.GetStreamingResponseAsync(prompts, options, Token).ToListAsync(Token).AsTask().WaitAsync(Bound, Token);

        var reply = string.Concat(GeneratedModels.PiecesOf(GeneratedModels.ScriptedReply).Take(3));
        var choices = LlmStack.Api.Backends.LlmStackChatOptions.ChoicesOf(whole);
        Assert.Equal(4, choices.Count);
        Assert.All(choices, choice =>
        {
            Assert.Equal(reply, choice.Text);
            Assert.Equal(ChatFinishReason.Length, choice.FinishReason);
        });
        // The upstream read each prompt once per choice.
        var prompted = 2 * (first.Usage!.InputTokenCount + second.Usage!.InputTokenCount);
        Assert.Equal(prompted, whole.Usage!.InputTokenCount);
        Assert.Equal(12, whole.Usage.OutputTokenCount);
        for (var index = 0; index < 4; index++)
        {
            var own = streamed.Where(u => LlmStack.Api.Backends.LlmStackChatOptions.ChoiceOf(u) == index && !u.Contents.OfType<UsageContent>().Any()).ToList();
            Assert.Equal(reply, string.Concat(own.Select(u => u.Text)));
            Assert.Equal(ChatFinishReason.Length, Assert.Single(own, u => u.FinishReason is not null).FinishReason);
        }
        var usage = Assert.Single(streamed.SelectMany(u => u.Contents).OfType<UsageContent>()).Details;
        Assert.Equal(prompted, usage.InputTokenCount);
        Assert.Equal(12, usage.OutputTokenCount);
    }

    [Fact]
    public async Task A_chat_of_several_choices_is_one_upstream_call_per_choice_streamed_or_not()
    {
        var options = new ChatOptions { MaxOutputTokens = 4, Seed = 3 };
        LlmStack.Api.Backends.LlmStackChatOptions.SetChoices(options, 3);
        var client = fixture.Host.ChatClient("chained");
        var one = await client.GetResponseAsync("Hi", new ChatOptions { MaxOutputTokens = 4 }, Token).WaitAsync(Bound, Token);

        var whole = await client.GetResponseAsync("Hi", options, Token).WaitAsync(Bound, Token);
        var streamed = await client.GetStreamingResponseAsync("Hi", options, Token).ToListAsync(Token).AsTask().WaitAsync(Bound, Token);

        var choices = LlmStack.Api.Backends.LlmStackChatOptions.ChoicesOf(whole);
        Assert.Equal(3, choices.Count);
        Assert.All(choices, choice =>
        {
            Assert.Equal(one.Text, choice.Text);
            Assert.Equal(ChatFinishReason.Length, choice.FinishReason);
        });
        // Each choice is a call of its own: the upstream read the conversation three times.
        Assert.Equal(3 * one.Usage!.InputTokenCount, whole.Usage!.InputTokenCount);
        Assert.Equal(12, whole.Usage.OutputTokenCount);
        for (var index = 0; index < 3; index++)
        {
            var own = streamed.Where(u => LlmStack.Api.Backends.LlmStackChatOptions.ChoiceOf(u) == index && !u.Contents.OfType<UsageContent>().Any()).ToList();
            Assert.Equal(one.Text, string.Concat(own.Select(u => u.Text)));
            Assert.Single(own, u => u.FinishReason is not null);
        }
        Assert.Equal(12, Assert.Single(streamed.SelectMany(u => u.Contents).OfType<UsageContent>()).Details.OutputTokenCount);
    }

    [Fact]
    public async Task A_text_completion_the_upstream_refuses_fails_as_a_chat_would()
    {
        var options = new ChatOptions();
        LlmStack.Api.Backends.LlmStackChatOptions.SetRawPrompt(options, suffix: null);

        var error = await Assert.ThrowsAsync<ApiErrorException>(() => fixture.Host.ChatClient("limited").GetResponseAsync("Hi", options, Token).WaitAsync(Bound, Token));

        Assert.Equal(429, error.StatusCode);
        Assert.Equal("rate_limit_exceeded", error.Code);
        Assert.Contains("rate limiting", error.Message);
    }

    [Fact]
    public async Task A_non_streamed_reply_through_the_backend_has_text_usage_and_finish_reason()
    {
        var response = await fixture.Host.ChatClient("chained").GetResponseAsync("Hello?", cancellationToken: Token).WaitAsync(Bound, Token);

        Assert.Equal(GeneratedModels.ScriptedReply, response.Text);
        Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
        Assert.Equal(GeneratedModels.PiecesOf(GeneratedModels.ScriptedReply).Count, response.Usage?.OutputTokenCount);
        Assert.True(response.Usage?.InputTokenCount > 0);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Cached_prompt_tokens_of_the_upstreams_llama_cpp_come_through(bool streamed)
    {
        var client = fixture.Host.ChatClient("chained");
        var prompt = $"A question asked twice, streamed: {streamed}.";
        async Task<UsageDetails> AskAsync() => streamed
            ? (await client.GetStreamingResponseAsync(prompt, cancellationToken: Token).ToChatResponseAsync(Token).WaitAsync(Bound, Token)).Usage!
            : (await client.GetResponseAsync(prompt, cancellationToken: Token).WaitAsync(Bound, Token)).Usage!;

        var first = await AskAsync();
        var second = await AskAsync();

        // The upstream API's embedded engine still holds the first prompt: all of it but the token it decodes again.
        Assert.True(first.CachedInputTokenCount < first.InputTokenCount - 1, $"first: {first.CachedInputTokenCount} of {first.InputTokenCount} cached");
        Assert.Equal(second.InputTokenCount - 1, second.CachedInputTokenCount);
    }

    [Fact]
    public async Task Embeddings_through_the_backend_are_the_upstream_models_own()
    {
        var direct = await fixture.Upstream.Services.GetRequiredService<ModelCatalog>().Models.Single().EmbeddingGenerator!
            .GenerateAsync(["The same text."], cancellationToken: Token).WaitAsync(Bound, Token);
        var chained = await fixture.Host.Model("chained").EmbeddingGenerator!
            .GenerateAsync(["The same text."], cancellationToken: Token).WaitAsync(Bound, Token);

        Assert.NotEmpty(direct[0].Vector.ToArray());
        Assert.Equal(direct[0].Vector.ToArray(), chained[0].Vector.ToArray());
    }

    [Fact]
    public async Task A_listed_model_is_ready()
    {
        var result = await fixture.Host.Model("chained").CheckReadyAsync(Token).WaitAsync(Bound, Token);

        Assert.Equal(HealthStatus.Healthy, result.Status);
    }

    [Fact]
    public async Task A_model_the_upstream_does_not_list_is_not_ready_and_says_so()
    {
        var result = await fixture.Host.Model("unlisted").CheckReadyAsync(Token).WaitAsync(Bound, Token);

        Assert.Equal(HealthStatus.Unhealthy, result.Status);
        Assert.Contains("does not serve model not-served-there", result.Description);
        Assert.Contains(OpenAIBackendFixture.UpstreamId, result.Description);
    }

    [Fact]
    public async Task An_unreachable_upstream_is_not_ready_and_says_why()
    {
        var stopwatch = System.Diagnostics.Stopwatch.StartNew();
        var result = await fixture.Host.Model("refused").CheckReadyAsync(Token).WaitAsync(Bound, Token);

        Assert.Equal(HealthStatus.Unhealthy, result.Status);
        Assert.Contains("Connection refused", result.Description);
        // GET /models is not retried (the service defaults would retry a GET three times, ~14 s): the prober repeats.
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(3), $"took {stopwatch.Elapsed}");
    }

    public static TheoryData<string, bool, int, string, string> Failures => new()
    {
        { "unauthorized", false, 502, "backend_error", "Incorrect API key provided" },
        { "gone", false, 404, "model_not_found", "The model `gone` does not exist." },
        { "gone", true, 404, "model_not_found", "The model `gone` does not exist." },
        { "limited", false, 429, "rate_limit_exceeded", "rate limiting" },
        { "limited", true, 429, "rate_limit_exceeded", "rate limiting" },
        { "crashing", false, 502, "backend_error", "The server had an error while processing your request." },
        { "crashing", true, 502, "backend_error", "The server had an error while processing your request." },
        { "overloaded", false, 503, "backend_unavailable", "The engine is currently overloaded." },
        { "refused", true, 503, "backend_unavailable", "Connection refused" },
        { "holding", true, 504, "backend_timeout", "FirstTokenTimeout" },
        { "holding", false, 504, "backend_timeout", "FirstTokenTimeout" },
    };

    [Theory]
    [MemberData(nameof(Failures))]
    public async Task Upstream_failures_become_api_errors_with_the_upstream_message(
        string model, bool stream, int status, string code, string message)
    {
        var error = await fixture.Host.ChatErrorAsync(model, stream, Bound);

        Assert.Equal(status, error.StatusCode);
        Assert.Equal(code, error.Code);
        Assert.Contains(message, error.Message);
    }

    [Fact]
    public async Task Rate_limits_keep_the_upstream_retry_after()
    {
        var error = await fixture.Host.ChatErrorAsync("limited", stream: false, Bound);

        Assert.Equal(TimeSpan.FromSeconds(12), error.RetryAfter);
    }

    [Fact]
    public async Task Canceling_while_the_upstream_holds_the_stream_stops_at_once()
    {
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(Token);
        cancel.CancelAfter(TimeSpan.FromMilliseconds(200));
        var stopwatch = System.Diagnostics.Stopwatch.StartNew();

        // The caller's own cancellation stays a cancellation (not a 504 from the first-token timeout that is
        // armed meanwhile) and ends the call long before that timeout.
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => fixture.Host.ChatClient("holding-patiently")
            .GetStreamingResponseAsync("Wait.", cancellationToken: cancel.Token).ToListAsync(cancel.Token).AsTask().WaitAsync(Bound, Token));
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(5), $"took {stopwatch.Elapsed}");
    }
}
