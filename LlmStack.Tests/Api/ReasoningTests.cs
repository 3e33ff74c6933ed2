using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmStack.Api.Configuration;
using LlmStack.Api.Pipeline;
using LlmStack.Tests.Api.Responses;
using LlmStack.Tests.Fixtures;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace LlmStack.Tests.Api;

/// <summary>
/// Reasoning text, whatever the backend calls it - <c>reasoning</c> (vLLM, Ollama's /v1), <c>reasoning_content</c>
/// (llama.cpp's server, LiteLLM), <c>thinking</c> (Ollama's native API), <c>&lt;think&gt;</c> blocks (an embedded
/// model whose template uses them) - comes out as <c>reasoning_content</c> on chat completions and as a reasoning
/// item in responses, apart from the reply. Also: a JSON schema reaches each upstream in its own form.
/// </summary>
public sealed class ReasoningTests(ReasoningTests.Stack stack) : IClassFixture<ReasoningTests.Stack>
{
    private const string UpstreamReasoning = "Think step by step.";
    private const string UpstreamAnswer = "Forty-two.";

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    public static TheoryData<string, string> Models => new()
    {
        { "think-block", GeneratedModels.ThinkingReasoning + "|" + GeneratedModels.ThinkingAnswer },
        { "vllm-style", UpstreamReasoning + "|" + UpstreamAnswer },
        { "llamacpp-style", UpstreamReasoning + "|" + UpstreamAnswer },
        { "ollama-thinking", string.Concat(OllamaTestServer.ThinkingTokens) + "|" + string.Concat(OllamaTestServer.ReplyTokens) },
    };

    [Theory]
    [MemberData(nameof(Models))]
    public async Task Chat_completion_carries_reasoning_content_beside_the_reply(string model, string expected)
    {
        var (reasoning, answer) = Split(expected);
        using var client = stack.App.CreateClient();

        using var response = await PostAsync(client, "/v1/chat/completions", $$"""{"model":"{{model}}","messages":[{"role":"user","content":"Hi"}]}""");

        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Cancel));
        var message = json.RootElement.GetProperty("choices")[0].GetProperty("message");
        Assert.Equal(answer, message.GetProperty("content").GetString());
        Assert.Equal(reasoning, message.GetProperty("reasoning_content").GetString());
    }

    [Theory]
    [MemberData(nameof(Models))]
    public async Task Chat_stream_carries_reasoning_content_deltas_before_the_reply(string model, string expected)
    {
        var (reasoning, answer) = Split(expected);
        using var client = stack.App.CreateClient();

        using var response = await PostAsync(client, "/v1/chat/completions", $$"""{"model":"{{model}}","messages":[{"role":"user","content":"Hi"}],"stream":true}""");
        var chunks = (await response.Content.ReadAsStringAsync(Cancel)).Split("\n\n", StringSplitOptions.RemoveEmptyEntries)
            .Select(e => e["data: ".Length..]).Where(e => e != "[DONE]")
            .Select(e => JsonDocument.Parse(e).RootElement.GetProperty("choices")[0].GetProperty("delta")).ToList();

        string Joined(string field) => string.Concat(chunks.Select(d => d.TryGetProperty(field, out var v) ? v.GetString() : ""));
        Assert.Equal(reasoning, Joined("reasoning_content"));
        Assert.Equal(answer, Joined("content"));
        var lastReasoning = chunks.FindLastIndex(d => d.TryGetProperty("reasoning_content", out _));
        var firstAnswer = chunks.FindIndex(d => d.TryGetProperty("content", out var c) && c.GetString()!.Length > 0);
        Assert.True(lastReasoning < firstAnswer, "the reasoning streams before the reply");
    }

    [Theory]
    [MemberData(nameof(Models))]
    public async Task Response_has_a_reasoning_item_before_the_message(string model, string expected)
    {
        var (reasoning, answer) = Split(expected);
        using var client = stack.App.CreateClient();

        using var whole = await PostAsync(client, "/v1/responses", $$"""{"model":"{{model}}","input":"Hi"}""");
        using var streamed = await PostAsync(client, "/v1/responses", $$"""{"model":"{{model}}","input":"Hi","stream":true}""");

        using var json = JsonDocument.Parse(await whole.Content.ReadAsStringAsync(Cancel));
        var output = json.RootElement.GetProperty("output");
        Assert.Equal(["reasoning", "message"], output.EnumerateArray().Select(i => i.GetProperty("type").GetString()));
        Assert.StartsWith("rs_", output[0].GetProperty("id").GetString());
        Assert.Equal("reasoning_text", output[0].GetProperty("content")[0].GetProperty("type").GetString());
        Assert.Equal(reasoning, output[0].GetProperty("content")[0].GetProperty("text").GetString());
        Assert.Equal(answer, json.RootElement.GetProperty("output_text").GetString());

        var events = ResponsesWireTests.Events(await streamed.Content.ReadAsStringAsync(Cancel));
        Assert.Equal(reasoning, string.Concat(events.Where(e => e.Event == "response.reasoning_text.delta").Select(e => e.Data.GetProperty("delta").GetString())));
        Assert.Equal(reasoning, events.Single(e => e.Event == "response.reasoning_text.done").Data.GetProperty("text").GetString());
        Assert.Equal(answer, string.Concat(events.Where(e => e.Event == "response.output_text.delta").Select(e => e.Data.GetProperty("delta").GetString())));
        Assert.Equal(0, events.First(e => e.Event == "response.reasoning_text.delta").Data.GetProperty("output_index").GetInt32());
        Assert.Equal(1, events.First(e => e.Event == "response.output_text.delta").Data.GetProperty("output_index").GetInt32());
    }

    [Fact]
    public async Task Json_schema_reaches_an_openai_upstream_as_response_format_and_ollama_as_format()
    {
        using var client = stack.App.CreateClient();
        const string schema = """{"type":"object","properties":{"city":{"type":"string"}},"required":["city"],"additionalProperties":false}""";

        using var openai = await PostAsync(client, "/v1/chat/completions", """
            {"model":"llamacpp-style","messages":[{"role":"user","content":"City?"}],
             "response_format":{"type":"json_schema","json_schema":{"name":"place","strict":true,"schema":SCHEMA}}}
            """.Replace("SCHEMA", schema, StringComparison.Ordinal));
        using var ollama = await PostAsync(client, "/v1/responses", """
            {"model":"ollama-thinking","input":"City?","text":{"format":{"type":"json_schema","name":"place","strict":true,"schema":SCHEMA}}}
            """.Replace("SCHEMA", schema, StringComparison.Ordinal));

        Assert.True(openai.IsSuccessStatusCode && ollama.IsSuccessStatusCode);
        var format = stack.LastOpenAIRequest!["response_format"]!;
        Assert.Equal("json_schema", (string?)format["type"]);
        Assert.Equal("place", (string?)format["json_schema"]!["name"]);
        Assert.True((bool?)format["json_schema"]!["strict"]);
        Assert.Equal("string", (string?)format["json_schema"]!["schema"]!["properties"]!["city"]!["type"]);
        var sent = stack.Ollama.RequestsFor("/api/chat", "thinking:1b").Last(r => r["format"] is not null);
        Assert.Equal("object", (string?)sent["format"]!["type"]);
        Assert.Equal("string", (string?)sent["format"]!["properties"]!["city"]!["type"]);
    }

    private static (string Reasoning, string Answer) Split(string expected) => (expected.Split('|')[0], expected.Split('|')[1]);

    private static Task<HttpResponseMessage> PostAsync(HttpClient client, string path, string body) =>
        client.PostAsync(path, new StringContent(body, Encoding.UTF8, "application/json"), Cancel);

    /// <summary>
    /// The API serving a &lt;think&gt; template model (embedded), two OpenAI-compatible upstreams that send the
    /// reasoning as <c>reasoning</c> and as <c>reasoning_content</c>, and an Ollama-protocol server that sends it
    /// as <c>thinking</c>.
    /// </summary>
    public sealed class Stack(GeneratedModels models) : IAsyncLifetime
    {
        private LoopbackWebServer _upstream = null!;

        public ApiApplication App { get; private set; } = null!;

        public OllamaTestServer Ollama { get; private set; } = null!;

        /// <summary>The body of the last chat request the OpenAI-compatible upstream received.</summary>
        public JsonObject? LastOpenAIRequest { get; private set; }

        public async ValueTask InitializeAsync()
        {
            _upstream = await LoopbackWebServer.StartAsync(endpoints =>
            {
                endpoints.MapGet("/v1/models", () => Results.Json(new JsonObject
                {
                    ["object"] = "list",
                    ["data"] = new JsonArray(new JsonObject { ["id"] = "reasoning", ["object"] = "model", ["created"] = 0, ["owned_by"] = "test" }),
                }));
                endpoints.MapPost("/v1/chat/completions", CompleteAsync);
            });
            Ollama = await OllamaTestServer.StartAsync("thinking:1b");
            var upstream = new Uri(_upstream.RootAddress, "v1").ToString();
            App = new ApiApplication(
            [
                new ModelOptions { Id = "think-block", Backend = "embedded", Path = models.Thinking },
                new ModelOptions { Id = "vllm-style", Backend = "openai", Endpoint = upstream, UpstreamModel = "reasoning" },
                new ModelOptions { Id = "llamacpp-style", Backend = "openai", Endpoint = upstream, UpstreamModel = "reasoning_content" },
                new ModelOptions { Id = "ollama-thinking", Backend = "ollama", Endpoint = Ollama.Endpoint.ToString(), UpstreamModel = "thinking:1b" },
            ]);
            _ = App.BaseAddress;
        }

        // The model's name is the field the reasoning travels in.
        private async Task CompleteAsync(HttpContext context)
        {
            var body = (await context.Request.ReadFromJsonAsync<JsonObject>())!;
            LastOpenAIRequest = body;
            var field = (string)body["model"]!;
            var header = new JsonObject { ["id"] = "chatcmpl-up", ["created"] = 1, ["model"] = field };
            if (body["stream"]?.GetValue<bool>() != true)
            {
                var completion = header.DeepClone().AsObject();
                completion["object"] = "chat.completion";
                completion["choices"] = new JsonArray(new JsonObject
                {
                    ["index"] = 0,
                    ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = UpstreamAnswer, [field] = UpstreamReasoning },
                    ["finish_reason"] = "stop",
                });
                completion["usage"] = new JsonObject { ["prompt_tokens"] = 3, ["completion_tokens"] = 4, ["total_tokens"] = 7 };
                await context.Response.WriteAsJsonAsync(completion);
                return;
            }
            context.Response.ContentType = "text/event-stream";
            JsonObject Delta(JsonObject delta, string? finish = null)
            {
                var chunk = header.DeepClone().AsObject();
                chunk["object"] = "chat.completion.chunk";
                chunk["choices"] = new JsonArray(new JsonObject { ["index"] = 0, ["delta"] = delta, ["finish_reason"] = finish });
                return chunk;
            }
            var chunks = new List<JsonObject> { Delta(new JsonObject { ["role"] = "assistant", ["content"] = null, [field] = "" }) };
            chunks.AddRange(UpstreamReasoning.Split(' ').Select((word, i) => Delta(new JsonObject { ["content"] = null, [field] = (i > 0 ? " " : "") + word })));
            chunks.AddRange(UpstreamAnswer.Split('-').Select((part, i) => Delta(new JsonObject { ["content"] = (i > 0 ? "-" : "") + part })));
            chunks.Add(Delta(new JsonObject(), "stop"));
            foreach (var chunk in chunks)
            {
                await context.Response.WriteAsync($"data: {chunk.ToJsonString()}\n\n");
                await context.Response.Body.FlushAsync();
            }
            await context.Response.WriteAsync("data: [DONE]\n\n");
        }

        public async ValueTask DisposeAsync()
        {
            await App.DisposeAsync();
            await Ollama.DisposeAsync();
            await _upstream.DisposeAsync();
        }
    }
}
