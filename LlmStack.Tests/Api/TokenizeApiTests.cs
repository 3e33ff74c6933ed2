using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmStack.Api.Configuration;
using LlmStack.Tests.Fixtures;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace LlmStack.Tests.Api;

/// <summary>
/// <c>/tokenize</c> and <c>/detokenize</c> with a generated model's own vocabulary (real llama.cpp tokenization), in
/// vLLM's and llama-server's shapes, and passed through to an OpenAI-compatible upstream that serves them.
/// </summary>
public sealed class TokenizeApiTests(TokenizeApiTests.Server server) : IClassFixture<TokenizeApiTests.Server>
{
    private const string Key = "sk-tokenize-0123456789abcdef";

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Text_round_trips_through_tokenize_and_detokenize_unicode_and_special_tokens_included()
    {
        const string text = "Grüße aus Zürich, 東京 and 🚀! <|im_start|>user\ncafé";

        var tokenized = await PostAsync("/tokenize", new JsonObject { ["model"] = "scripted", ["content"] = text });
        var tokens = tokenized["tokens"]!.AsArray().Select(t => (int)t!).ToList();
        var detokenized = await PostAsync("/detokenize", new JsonObject { ["model"] = "scripted", ["tokens"] = new JsonArray([.. tokens.Select(t => (JsonNode)t)]) });

        Assert.Equal(text, (string?)detokenized["content"]);
        Assert.Equal(text, (string?)detokenized["prompt"]);
        Assert.Equal(tokens.Count, (int)tokenized["count"]!);
        // More tokens than bytes would mean no merges were applied; fewer than words, the text was lost.
        Assert.InRange(tokens.Count, 8, Encoding.UTF8.GetByteCount(text) - 1);
    }

    [Fact]
    public async Task Special_tokens_in_text_are_one_control_token_shown_by_its_name_unless_parse_special_is_false()
    {
        var parsed = await PostAsync("/tokenize", new JsonObject { ["model"] = "scripted", ["content"] = "<|im_start|>hi", ["with_pieces"] = true });
        var literal = await PostAsync("/tokenize", new JsonObject { ["model"] = "scripted", ["content"] = "<|im_start|>hi", ["parse_special"] = false });

        var pieces = parsed["tokens"]!.AsArray().Select(t => (Id: (int)t!["id"]!, Piece: t["piece"]!.GetValueKind() == JsonValueKind.String ? (string)t["piece"]! : null)).ToList();
        Assert.Equal("<|im_start|>", pieces[0].Piece);
        Assert.Equal("<|im_start|>hi", string.Concat(pieces.Select(p => p.Piece)));
        Assert.True((int)literal["count"]! > pieces.Count, "without parse_special the marker is spelled out in ordinary tokens");
    }

    [Fact]
    public async Task A_conversation_counts_the_tokens_its_chat_completion_reports_as_prompt_tokens()
    {
        var messages = new JsonArray(
            new JsonObject { ["role"] = "system", ["content"] = "You answer in one word." },
            new JsonObject { ["role"] = "user", ["content"] = "Wie heißt die Hauptstadt von 日本?" });
        var tools = new JsonArray(new JsonObject
        {
            ["type"] = "function",
            ["function"] = new JsonObject
            {
                ["name"] = "get_weather",
                ["parameters"] = new JsonObject { ["type"] = "object", ["properties"] = new JsonObject { ["city"] = new JsonObject { ["type"] = "string" } } },
            },
        });

        foreach (var withTools in new[] { false, true })
        {
            var tokenize = new JsonObject { ["model"] = "scripted", ["messages"] = messages.DeepClone() };
            var chat = new JsonObject { ["model"] = "scripted", ["messages"] = messages.DeepClone(), ["max_tokens"] = 1 };
            if (withTools)
            {
                tokenize["tools"] = tools.DeepClone();
                chat["tools"] = tools.DeepClone();
            }
            var tokenized = await PostAsync("/tokenize", tokenize);
            var completion = await PostAsync("/v1/chat/completions", chat);

            Assert.Equal((int)completion["usage"]!["prompt_tokens"]!, (int)tokenized["count"]!);
            Assert.Equal((int)tokenized["count"]!, tokenized["tokens"]!.AsArray().Count);
        }
    }

    [Fact]
    public async Task A_conversation_without_the_generation_prompt_is_shorter_by_the_assistant_marker()
    {
        var messages = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "Hello" });

        var with = await PostAsync("/tokenize", new JsonObject { ["model"] = "scripted", ["messages"] = messages.DeepClone(), ["return_token_strs"] = true });
        var without = await PostAsync("/tokenize", new JsonObject { ["model"] = "scripted", ["messages"] = messages.DeepClone(), ["add_generation_prompt"] = false });

        var text = string.Concat(with["token_strs"]!.AsArray().Select(s => (string)s!));
        Assert.EndsWith("<|im_start|>assistant\n", text);
        Assert.StartsWith("<|im_start|>", text);
        Assert.True((int)without["count"]! < (int)with["count"]!);
        Assert.Equal(server.ContextSize, (int)with["max_model_len"]!);
    }

    [Fact]
    public async Task The_only_served_model_needs_no_name_as_llama_server_clients_send_none()
    {
        await using var single = new ApiApplication([new ModelOptions { Id = "scripted", Backend = "embedded", Path = server.Models.Scripted }]);
        using var client = single.CreateClient();

        using var response = await client.PostAsJsonAsync("/tokenize", new JsonObject { ["content"] = "hello" }, Cancel);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Theory]
    [InlineData("/tokenize", """{"model":"scripted"}""", "prompt", "missing_required_parameter")]
    [InlineData("/tokenize", """{"model":"scripted","prompt":"a","messages":[{"role":"user","content":"b"}]}""", "messages", "invalid_value")]
    [InlineData("/tokenize", """{"model":"scripted","prompt":7}""", "prompt", "invalid_type")]
    [InlineData("/tokenize", """{"model":"scripted","messages":[{"role":"wizard","content":"b"}]}""", "messages[0].role", null)]
    [InlineData("/tokenize", """{"model":"scripted","messages":[{"role":"user","content":"b"}],"add_special":true}""", "add_special", "invalid_value")]
    [InlineData("/tokenize", """{"model":"scripted","content":"a","tools":[]}""", "tools", "invalid_value")]
    [InlineData("/tokenize", """{"content":"a"}""", "model", "missing_required_parameter")]
    [InlineData("/detokenize", """{"model":"scripted"}""", "tokens", "missing_required_parameter")]
    [InlineData("/detokenize", """{"model":"scripted","tokens":[1,"two"]}""", "tokens[1]", "invalid_type")]
    [InlineData("/detokenize", """{"model":"scripted","tokens":[1,-3]}""", "tokens[1]", "invalid_value")]
    [InlineData("/detokenize", """{"model":"scripted","tokens":[1,99999999]}""", "tokens[1]", "invalid_value")]
    [InlineData("/detokenize", """{"model":"chat-only","tokens":[1]}""", "model", "unsupported_model")]
    public async Task Bad_input_is_a_400_naming_the_field(string path, string body, string param, string? code)
    {
        using var response = await server.Client.PostAsync(path, new StringContent(body, Encoding.UTF8, "application/json"), Cancel);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = await ErrorEnvelope.ReadAsync(response);
        Assert.Equal(param, error.Param);
        if (code is not null)
        {
            Assert.Equal(code, error.Code);
        }
    }

    [Fact]
    public async Task Unknown_model_is_404_and_a_missing_key_401_as_on_v1()
    {
        using var unknown = await server.Client.PostAsJsonAsync("/tokenize", new JsonObject { ["model"] = "nope", ["content"] = "a" }, Cancel);
        using var anonymous = new HttpClient { BaseAddress = server.App.BaseAddress };
        using var unauthorized = await anonymous.PostAsJsonAsync("/detokenize", new JsonObject { ["model"] = "scripted", ["tokens"] = new JsonArray(1) }, Cancel);

        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal("model_not_found", (await ErrorEnvelope.ReadAsync(unknown)).Code);
        Assert.Equal(HttpStatusCode.Unauthorized, unauthorized.StatusCode);
        Assert.Equal("invalid_api_key", (await ErrorEnvelope.ReadAsync(unauthorized)).Code);
    }

    [Fact]
    public async Task An_upstream_tokenizer_is_asked_in_both_servers_dialects_and_its_answer_read_in_either()
    {
        var received = new List<JsonObject>();
        await using var upstream = await LoopbackWebServer.StartAsync(endpoints =>
        {
            endpoints.MapGet("/v1/models", () => Results.Json(new { @object = "list", data = Array.Empty<object>() }));
            // llama-server's answers: pieces as objects, text as "content".
            endpoints.MapPost("/tokenize", async (HttpContext context) =>
            {
                var body = (await context.Request.ReadFromJsonAsync<JsonObject>())!;
                lock (received)
                {
                    received.Add(body);
                }
                return Results.Json(new { tokens = new object[] { new { id = 5, piece = "Hel" }, new { id = 9, piece = new[] { 0xE4, 0xB8 } } } });
            });
            endpoints.MapPost("/detokenize", () => Results.Json(new { content = "Hello 世" }));
        });
        await using var app = new ApiApplication(
            [new ModelOptions { Id = "remote", Backend = "openai", Endpoint = new Uri(upstream.RootAddress, "v1").ToString(), UpstreamModel = "Qwen/Qwen2.5-7B", ApiKey = "sk-upstream" }]);
        using var client = app.CreateClient();

        using var tokenized = await client.PostAsJsonAsync("/tokenize", new JsonObject { ["model"] = "remote", ["prompt"] = "Hello 世", ["with_pieces"] = true }, Cancel);
        using var detokenized = await client.PostAsJsonAsync("/detokenize", new JsonObject { ["model"] = "remote", ["tokens"] = new JsonArray(5, 9) }, Cancel);

        Assert.Equal(HttpStatusCode.OK, tokenized.StatusCode);
        var answer = JsonNode.Parse(await tokenized.Content.ReadAsStringAsync(Cancel))!;
        Assert.Equal(2, (int)answer["count"]!);
        Assert.Equal("Hel", (string?)answer["tokens"]![0]!["piece"]);
        Assert.Equal([0xE4, 0xB8], answer["tokens"]![1]!["piece"]!.AsArray().Select(b => (int)b!));
        Assert.Equal("Hello 世", (string?)JsonNode.Parse(await detokenized.Content.ReadAsStringAsync(Cancel))!["prompt"]);
        var sent = Assert.Single(received);
        Assert.Equal("Qwen/Qwen2.5-7B", (string?)sent["model"]);
        Assert.Equal("Hello 世", (string?)sent["prompt"]);
        Assert.Equal("Hello 世", (string?)sent["content"]);
        Assert.True((bool)sent["add_special_tokens"]!);
        Assert.True((bool)sent["with_pieces"]!);
    }

    [Fact]
    public async Task An_upstream_without_tokenize_is_a_400_saying_so()
    {
        await using var upstream = await LoopbackWebServer.StartAsync(endpoints =>
            endpoints.MapGet("/v1/models", () => Results.Json(new { @object = "list", data = Array.Empty<object>() })));
        await using var app = new ApiApplication(
            [new ModelOptions { Id = "remote", Backend = "openai", Endpoint = new Uri(upstream.RootAddress, "v1").ToString() }]);
        using var client = app.CreateClient();

        using var response = await client.PostAsJsonAsync("/tokenize", new JsonObject { ["model"] = "remote", ["prompt"] = "hi" }, Cancel);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = await ErrorEnvelope.ReadAsync(response);
        Assert.Equal("unsupported_model", error.Code);
        Assert.Contains("no tokenize endpoint", error.Message);
    }

    private async Task<JsonNode> PostAsync(string path, JsonObject body)
    {
        using var response = await server.Client.PostAsJsonAsync(path, body, Cancel);
        var text = await response.Content.ReadAsStringAsync(Cancel);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {(int)response.StatusCode} {text}");
        return JsonNode.Parse(text)!;
    }

    /// <summary>The API with a key, serving a generated model and a model whose backend has no tokenizer.</summary>
    public sealed class Server(GeneratedModels models) : IAsyncLifetime
    {
        public const int ContextSizeSetting = 2048;

        public GeneratedModels Models => models;

        public ApiApplication App { get; private set; } = null!;

        public HttpClient Client { get; private set; } = null!;

        public int ContextSize => ContextSizeSetting;

        public ValueTask InitializeAsync()
        {
            var chatOnly = new InMemoryBackend(new Dictionary<string, InMemoryChatClient> { ["chat-only"] = InMemoryChatClient.Replying(["-"]) });
            App = new ApiApplication(
                [
                    new ModelOptions { Id = "scripted", Backend = "embedded", Path = models.Scripted, Embedded = new() { ContextSize = ContextSizeSetting } },
                    new ModelOptions { Id = "chat-only", Backend = InMemoryBackend.BackendName },
                ],
                new Dictionary<string, string?> { ["LlmStack:Auth:Keys:0:Key"] = Key },
                services => Microsoft.Extensions.DependencyInjection.ServiceCollectionServiceExtensions.AddSingleton<LlmStack.Api.Backends.IModelBackend>(services, chatOnly));
            Client = new HttpClient { BaseAddress = App.BaseAddress };
            Client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Key);
            return ValueTask.CompletedTask;
        }

        public async ValueTask DisposeAsync()
        {
            Client.Dispose();
            await App.DisposeAsync();
        }
    }
}
