using System.Net;
using System.Text;
using System.Text.Json;
using LlmStack.Api.Backends;
using LlmStack.Api.Errors;
using LlmStack.Tests.Fixtures;
using Microsoft.Extensions.AI;

namespace LlmStack.Tests.Api.Completions;

/// <summary>
/// The wire format of /v1/completions against scripted backends: the <c>text_completion</c> shape, streamed and not,
/// <c>echo</c>, what reaches the backend (one raw prompt, no chat turns), and a 400 naming the field for every bad input.
/// </summary>
public sealed class CompletionsWireTests
{
    private const string Model = "scripted";

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    internal static Task<HttpResponseMessage> PostAsync(HttpClient client, string body) =>
        client.PostAsync("/v1/completions", new StringContent(body, Encoding.UTF8, "application/json"), Cancel);

    [Fact]
    public async Task Completion_has_OpenAI_shape_and_the_backend_gets_the_raw_prompt()
    {
        var backend = InMemoryChatClient.Replying(["Hel", "lo"]);
        await using var app = InMemoryBackend.Serve((Model, backend));
        using var client = app.CreateClient();

        using var response = await PostAsync(client, """{"model":"scripted","prompt":"Once upon a time","max_tokens":5,"temperature":0.5,"stop":"\n","seed":3}""");
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Cancel));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var root = json.RootElement;
        Assert.StartsWith("cmpl-", root.GetProperty("id").GetString());
        Assert.Equal("text_completion", root.GetProperty("object").GetString());
        Assert.Equal("scripted", root.GetProperty("model").GetString());
        Assert.Equal("""[{"text":"Hello","index":0,"logprobs":null,"finish_reason":"stop"}]""", root.GetProperty("choices").GetRawText());
        Assert.Equal("""{"prompt_tokens":7,"completion_tokens":2,"total_tokens":9}""", root.GetProperty("usage").GetRawText());

        var message = Assert.Single(backend.LastMessages!);
        Assert.Equal(ChatRole.User, message.Role);
        Assert.Equal("Once upon a time", message.Text);
        var options = backend.LastOptions!;
        var raw = LlmStackChatOptions.RawPromptOf(backend.LastMessages!, options)!;
        Assert.Equal(["Once upon a time"], raw.Prompts);
        Assert.Null(raw.Suffix);
        Assert.Equal(5, options.MaxOutputTokens);
        Assert.Equal(0.5f, options.Temperature);
        Assert.Equal(["\n"], options.StopSequences);
        Assert.Equal(3, options.Seed);
    }

    [Fact]
    public async Task Max_tokens_defaults_to_OpenAIs_16_and_a_suffix_reaches_the_backend()
    {
        var backend = InMemoryChatClient.Replying(["x"]);
        await using var app = InMemoryBackend.Serve((Model, backend));
        using var client = app.CreateClient();

        using var response = await PostAsync(client, """{"model":"scripted","prompt":["def add(a, b):"],"suffix":"\n\nprint(add(1, 2))"}""");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(16, backend.LastOptions!.MaxOutputTokens);
        var raw = LlmStackChatOptions.RawPromptOf(backend.LastMessages!, backend.LastOptions)!;
        Assert.Equal(["def add(a, b):"], raw.Prompts);
        Assert.Equal("\n\nprint(add(1, 2))", raw.Suffix);
    }

    [Fact]
    public async Task Several_prompts_reach_the_backend_as_one_call_of_every_prompts_choices()
    {
        var backend = InMemoryChatClient.Replying(["x"]);
        await using var app = InMemoryBackend.Serve((Model, backend));
        using var client = app.CreateClient();

        using var response = await PostAsync(client, """{"model":"scripted","prompt":["First","Second","Third"],"n":2,"max_tokens":3}""");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(["First", "Second", "Third"], LlmStackChatOptions.RawPromptOf(backend.LastMessages!, backend.LastOptions)!.Prompts);
        Assert.All(backend.LastMessages!, m => Assert.Equal(ChatRole.User, m.Role));
        // Six sequences: what the key's budget reserves and the model's admission counts.
        Assert.Equal(6, LlmStackChatOptions.ChoicesOf(backend.LastOptions));
    }

    [Fact]
    public async Task Echo_writes_the_prompt_before_the_completion()
    {
        await using var app = InMemoryBackend.Serve((Model, InMemoryChatClient.Replying([" there"])));
        using var client = app.CreateClient();

        using var plain = await PostAsync(client, """{"model":"scripted","prompt":"Hello","echo":true}""");
        using var streamed = await PostAsync(client, """{"model":"scripted","prompt":"Hello","echo":true,"stream":true}""");

        using var json = JsonDocument.Parse(await plain.Content.ReadAsStringAsync(Cancel));
        Assert.Equal("Hello there", json.RootElement.GetProperty("choices")[0].GetProperty("text").GetString());
        var texts = TextsOf(await streamed.Content.ReadAsStringAsync(Cancel));
        Assert.Equal(["Hello", " there", ""], texts);
    }

    [Fact]
    public async Task Stream_is_text_chunks_with_one_id_then_finish_then_usage_then_done()
    {
        await using var app = InMemoryBackend.Serve((Model, InMemoryChatClient.Replying(["Hel", "lo"], ChatFinishReason.Length)));
        using var client = app.CreateClient();

        using var response = await PostAsync(client, """{"model":"scripted","prompt":"Hi","max_tokens":2,"stream":true,"stream_options":{"include_usage":true}}""");
        var body = await response.Content.ReadAsStringAsync(Cancel);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var first = JsonDocument.Parse(body["data: ".Length..body.IndexOf('\n')]);
        var id = first.RootElement.GetProperty("id").GetString()!;
        var created = first.RootElement.GetProperty("created").GetInt64();
        Assert.StartsWith("cmpl-", id);
        var head = $$"""{"id":"{{id}}","object":"text_completion","created":{{created}},"model":"scripted","choices":""";
        Assert.Equal(
            $$"""data: {{head}}[{"text":"Hel","index":0,"logprobs":null,"finish_reason":null}]}""" + "\n\n" +
            $$"""data: {{head}}[{"text":"lo","index":0,"logprobs":null,"finish_reason":null}]}""" + "\n\n" +
            $$"""data: {{head}}[{"text":"","index":0,"logprobs":null,"finish_reason":"length"}]}""" + "\n\n" +
            $$$"""data: {{{head}}}[],"usage":{"prompt_tokens":7,"completion_tokens":2,"total_tokens":9}}""" + "\n\n" +
            "data: [DONE]\n\n",
            body);
    }

    [Fact]
    public async Task Failure_after_the_first_chunk_is_an_error_event_then_done()
    {
        var backend = InMemoryChatClient.FailingAfter(["Hel"], ApiErrorException.BackendFailed(Model, "the runner died"));
        await using var app = InMemoryBackend.Serve((Model, backend));
        using var client = app.CreateClient();

        using var response = await PostAsync(client, """{"model":"scripted","prompt":"Hi","stream":true}""");
        var events = ChatCompletionsWireTests.SseEvents(await response.Content.ReadAsStringAsync(Cancel));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("[DONE]", events[^1]);
        var error = ErrorEnvelope.Parse(events[^2]);
        Assert.Equal("backend_error", error.Code);
        Assert.Contains("the runner died", error.Message);
    }

    public static TheoryData<string, string, string> BadRequests => new()
    {
        { "no prompt", """{"model":"scripted"}""", "prompt" },
        { "prompt as a number", """{"model":"scripted","prompt":5}""", "prompt" },
        { "empty prompt", """{"model":"scripted","prompt":""}""", "prompt" },
        { "no prompts in the array", """{"model":"scripted","prompt":[]}""", "prompt" },
        { "empty prompt in the array", """{"model":"scripted","prompt":["a",""]}""", "prompt[1]" },
        { "token ids", """{"model":"scripted","prompt":[1,2,3]}""", "prompt[0]" },
        { "arrays of token ids", """{"model":"scripted","prompt":[[1,2],[3]]}""", "prompt[0]" },
        { "a prompt that is an object", """{"model":"scripted","prompt":[{"text":"a"}]}""", "prompt[0]" },
        { "nine prompts", """{"model":"scripted","prompt":["a","b","c","d","e","f","g","h","i"]}""", "prompt" },
        { "prompts times n above 8", """{"model":"scripted","prompt":["a","b","c"],"n":3}""", "n" },
        { "max_tokens zero", """{"model":"scripted","prompt":"a","max_tokens":0}""", "max_tokens" },
        { "temperature above 2", """{"model":"scripted","prompt":"a","temperature":3}""", "temperature" },
        { "top_p above 1", """{"model":"scripted","prompt":"a","top_p":2}""", "top_p" },
        { "presence_penalty below -2", """{"model":"scripted","prompt":"a","presence_penalty":-3}""", "presence_penalty" },
        { "stop as a number", """{"model":"scripted","prompt":"a","stop":1}""", "stop" },
        { "logprobs above 5", """{"model":"scripted","prompt":"a","logprobs":6}""", "logprobs" },
        { "negative logprobs", """{"model":"scripted","prompt":"a","logprobs":-1}""", "logprobs" },
        { "n of 0", """{"model":"scripted","prompt":"a","n":0}""", "n" },
        { "n above 8", """{"model":"scripted","prompt":"a","n":9}""", "n" },
        { "best_of beside n", """{"model":"scripted","prompt":"a","best_of":3}""", "best_of" },
        { "echo with a suffix", """{"model":"scripted","prompt":"a","suffix":"b","echo":true}""", "echo" },
        { "stream_options without stream", """{"model":"scripted","prompt":"a","stream_options":{"include_usage":true}}""", "stream_options" },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task Bad_request_is_a_400_naming_the_field(string because, string body, string param)
    {
        var backend = InMemoryChatClient.Replying(["x"]);
        await using var app = InMemoryBackend.Serve((Model, backend));
        using var client = app.CreateClient();

        using var response = await PostAsync(client, body);

        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{because}: {(int)response.StatusCode}");
        var error = await ErrorEnvelope.ReadAsync(response);
        Assert.Equal(param, error.Param);
        Assert.Equal("invalid_request_error", error.Type);
        Assert.Null(backend.LastMessages);
    }

    [Fact]
    public async Task Unknown_model_is_a_404()
    {
        await using var app = InMemoryBackend.Serve((Model, InMemoryChatClient.Replying(["x"])));
        using var client = app.CreateClient();

        using var response = await PostAsync(client, """{"model":"nope","prompt":"a"}""");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("model_not_found", (await ErrorEnvelope.ReadAsync(response)).Code);
    }

    /// <summary>The text of each choice chunk of a completion stream (usage chunks and [DONE] left out).</summary>
    internal static List<string> TextsOf(string body)
    {
        var events = ChatCompletionsWireTests.SseEvents(body);
        Assert.Equal("[DONE]", events[^1]);
        return [.. events[..^1]
            .Select(e => JsonDocument.Parse(e).RootElement.GetProperty("choices"))
            .Where(choices => choices.GetArrayLength() > 0)
            .Select(choices => choices[0].GetProperty("text").GetString()!)];
    }
}
