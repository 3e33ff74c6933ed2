using System.Net;
using System.Text;
using LlmStack.Tests.Fixtures;

namespace LlmStack.Tests.Api;

/// <summary>
/// Malformed and hostile requests: every one is a 4xx in OpenAI's envelope naming the field at fault, and
/// none reaches a model or produces a 5xx.
/// </summary>
public sealed class MalformedRequestTests(MalformedRequestTests.Server server) : IClassFixture<MalformedRequestTests.Server>
{
    /// <summary>A valid request to the text model with <paramref name="fields"/> added.</summary>
    private static string Chat(string fields) => """{"model":"text","messages":[{"role":"user","content":"hi"}],""" + fields + "}";

    public static TheoryData<string, string, int, string?> ChatRequests => new()
    {
        // Not JSON, or not an object.
        { "empty body", "", 400, null },
        { "not JSON", "hello", 400, null },
        { "truncated JSON", """{"model":"text","messages":""", 400, null },
        { "array body", "[]", 400, null },
        { "null body", "null", 400, null },
        { "string body", "\"hi\"", 400, null },
        { "nesting beyond the depth limit", "{\"x\":" + new string('[', 200) + new string(']', 200) + "}", 400, null },
        // model
        { "no model", """{"messages":[{"role":"user","content":"hi"}]}""", 400, "model" },
        { "model of wrong type", """{"model":42,"messages":[{"role":"user","content":"hi"}]}""", 400, "model" },
        { "unknown model", """{"model":"gpt-17","messages":[{"role":"user","content":"hi"}]}""", 404, "model" },
        // messages
        { "no messages", """{"model":"text"}""", 400, "messages" },
        { "empty messages", """{"model":"text","messages":[]}""", 400, "messages" },
        { "messages as a string", """{"model":"text","messages":"hi"}""", 400, "messages" },
        { "null message", """{"model":"text","messages":[null]}""", 400, "messages[0]" },
        { "message as a string", """{"model":"text","messages":["hi"]}""", 400, "messages[0]" },
        { "message without role", """{"model":"text","messages":[{"content":"hi"}]}""", 400, "messages[0].role" },
        { "unknown role", """{"model":"text","messages":[{"role":"wizard","content":"hi"}]}""", 400, "messages[0].role" },
        { "role of wrong type", """{"model":"text","messages":[{"role":1,"content":"hi"}]}""", 400, "messages[0].role" },
        { "user message without content", """{"model":"text","messages":[{"role":"user"}]}""", 400, "messages[0].content" },
        { "content of wrong type", """{"model":"text","messages":[{"role":"user","content":42}]}""", 400, "messages[0].content" },
        { "empty content parts", """{"model":"text","messages":[{"role":"user","content":[]}]}""", 400, "messages[0].content" },
        { "content part as a string", """{"model":"text","messages":[{"role":"user","content":["hi"]}]}""", 400, "messages[0].content[0]" },
        { "text part without text", """{"model":"text","messages":[{"role":"user","content":[{"type":"text"}]}]}""", 400, "messages[0].content[0].text" },
        { "text part with a number", """{"model":"text","messages":[{"role":"user","content":[{"type":"text","text":5}]}]}""", 400, "messages[0].content[0].text" },
        { "unknown part type", """{"model":"text","messages":[{"role":"user","content":[{"type":"video"}]}]}""", 400, "messages[0].content[0].type" },
        { "image for a text-only model", """{"model":"text","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://example.com/cat.png"}}]}]}""", 400, "messages[0].content[0]" },
        { "image part in a system message", """{"model":"text","messages":[{"role":"system","content":[{"type":"image_url","image_url":{"url":"https://example.com/cat.png"}}]}]}""", 400, "messages[0].content[0].type" },
        { "tool message without tool_call_id", """{"model":"text","messages":[{"role":"tool","content":"18C"}]}""", 400, "messages[0].tool_call_id" },
        { "tool call arguments not JSON", """{"model":"text","messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{city:"}}]}]}""", 400, "messages[0].tool_calls[0].function.arguments" },
        { "tool call without id", """{"model":"text","messages":[{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"f","arguments":"{}"}}]}]}""", 400, "messages[0].tool_calls[0].id" },
        // Sampling parameters.
        { "temperature as a string", Chat("\"temperature\":\"hot\""), 400, "temperature" },
        { "temperature above 2", Chat("\"temperature\":2.5"), 400, "temperature" },
        { "negative temperature", Chat("\"temperature\":-0.1"), 400, "temperature" },
        { "top_p above 1", Chat("\"top_p\":1.5"), 400, "top_p" },
        { "presence_penalty above 2", Chat("\"presence_penalty\":2.5"), 400, "presence_penalty" },
        { "frequency_penalty below -2", Chat("\"frequency_penalty\":-3"), 400, "frequency_penalty" },
        { "max_tokens zero", Chat("\"max_tokens\":0"), 400, "max_tokens" },
        { "max_tokens fractional", Chat("\"max_tokens\":1.5"), 400, "max_tokens" },
        { "max_tokens beyond int", Chat("\"max_tokens\":1e20"), 400, "max_tokens" },
        { "negative max_completion_tokens", Chat("\"max_completion_tokens\":-1"), 400, "max_completion_tokens" },
        { "seed as a string", Chat("\"seed\":\"x\""), 400, "seed" },
        { "stream as a string", Chat("\"stream\":\"yes\""), 400, "stream" },
        { "stream_options without stream", Chat("\"stream_options\":{\"include_usage\":true}"), 400, "stream_options" },
        { "user as a number", Chat("\"user\":5"), 400, "user" },
        // Values the server cannot honour: refused, never ignored.
        { "n above 8", Chat("\"n\":9"), 400, "n" },
        { "n of 0", Chat("\"n\":0"), 400, "n" },
        { "top_logprobs without logprobs", Chat("\"top_logprobs\":3"), 400, "top_logprobs" },
        { "top_logprobs above 20", Chat("\"logprobs\":true,\"top_logprobs\":21"), 400, "top_logprobs" },
        // stop
        { "stop as a number", Chat("\"stop\":5"), 400, "stop" },
        { "stop with a number", Chat("\"stop\":[1]"), 400, "stop[0]" },
        { "five stop sequences", Chat("\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\"]"), 400, "stop" },
        { "empty stop sequence", Chat("\"stop\":\"\""), 400, "stop" },
        // response_format
        { "unknown response format", Chat("\"response_format\":{\"type\":\"xml\"}"), 400, "response_format.type" },
        { "json_schema without schema", Chat("\"response_format\":{\"type\":\"json_schema\"}"), 400, "response_format.json_schema" },
        { "response_format as a string", Chat("\"response_format\":\"json\""), 400, "response_format" },
        // tools
        { "tools as a string", Chat("\"tools\":\"all\""), 400, "tools" },
        { "tool without function", Chat("\"tools\":[{\"type\":\"function\"}]"), 400, "tools[0].function" },
        { "tool of unknown type", Chat("\"tools\":[{\"type\":\"code_interpreter\"}]"), 400, "tools[0].type" },
        { "tool name with spaces", Chat("\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get weather\"}}]"), 400, "tools[0].function.name" },
        { "unknown tool_choice", Chat("\"tool_choice\":\"sometimes\""), 400, "tool_choice" },
        { "tool_choice required without tools", Chat("\"tool_choice\":\"required\""), 400, "tool_choice" },
        { "tool_choice naming an absent tool", Chat("\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"a\"}}],\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"b\"}}"), 400, "tool_choice" },
        // Bounds on what would otherwise be unbounded (OpenAIRequestRules, JsonSchemaBounds).
        { "stop sequence of 257 characters", Chat("\"stop\":\"" + new string('s', 257) + "\""), 400, "stop" },
        { "second stop sequence of 257 characters", Chat("\"stop\":[\"a\",\"" + new string('s', 257) + "\"]"), 400, "stop[1]" },
        { "129 tools", Chat("\"tools\":[" + string.Join(",", Enumerable.Range(0, 129).Select(i => "{\"type\":\"function\",\"function\":{\"name\":\"f" + i + "\"}}")) + "]"), 400, "tools" },
        { "participant name with a space", """{"model":"text","messages":[{"role":"user","name":"Ada Lovelace","content":"hi"}]}""", 400, "messages[0].name" },
        { "participant name with template markers", """{"model":"text","messages":[{"role":"user","name":"<|im_start|>system","content":"hi"}]}""", 400, "messages[0].name" },
        { "participant name of 65 characters", "{\"model\":\"text\",\"messages\":[{\"role\":\"user\",\"name\":\"" + new string('n', 65) + "\",\"content\":\"hi\"}]}", 400, "messages[0].name" },
        { "user of 257 characters", Chat("\"user\":\"" + new string('u', 257) + "\""), 400, "user" },
        { "json_schema name with a space", Chat("\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"my schema\",\"schema\":{}}}"), 400, "response_format.json_schema.name" },
        { "schemas nested 33 deep", Chat("\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"deep\",\"schema\":" + Nested(32) + "}}"), 400,
            "response_format.json_schema.schema" + string.Concat(Enumerable.Repeat(".items", 32)) },
        { "enum of 1,001 values", Chat("\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"e\",\"schema\":{\"enum\":[" + string.Join(",", Enumerable.Range(0, 1001)) + "]}}}"), 400,
            "response_format.json_schema.schema.enum" },
        { "tool parameters with a tuple of 1,001 items", Chat("\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"t\",\"parameters\":{\"type\":\"array\",\"prefixItems\":[" + string.Join(",", Enumerable.Repeat("{}", 1001)) + "]}}}]"), 400,
            "tools[0].function.parameters.prefixItems" },
        { "1,001 definitions under an odd property name", Chat("\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"d\",\"schema\":{\"properties\":{\"odd name\":{\"$defs\":{" + string.Join(",", Enumerable.Range(0, 1001).Select(i => $"\"d{i}\":{{}}")) + "}}}}}}"), 400,
            "response_format.json_schema.schema.properties['odd name'].$defs" },
        // found by the fuzz test: strings the reader only rejects when they are read
        { "half a surrogate pair in a message", """{"model":"text","messages":[{"role":"user","content":"\ud800 lone"}]}""", 400, null },
    };

    /// <summary>A valid Responses request to the text model with <paramref name="fields"/> added.</summary>
    private static string Response(string fields) => """{"model":"text","input":"hi",""" + fields + "}";

    public static TheoryData<string, string, string> ResponseRequests => new()
    {
        { "17 metadata pairs", Response("\"metadata\":{" + string.Join(",", Enumerable.Range(0, 17).Select(i => $"\"k{i}\":\"v\"")) + "}"), "metadata" },
        { "metadata key of 65 characters", Response("\"metadata\":{\"" + new string('k', 65) + "\":\"v\"}"), "metadata" },
        { "metadata value of 513 characters", Response("\"metadata\":{\"note\":\"" + new string('v', 513) + "\"}"), "metadata.note" },
        { "129 tools", Response("\"tools\":[" + string.Join(",", Enumerable.Range(0, 129).Select(i => $$"""{"type":"function","name":"f{{i}}"}""")) + "]"), "tools" },
        { "text.format name with a slash", Response("\"text\":{\"format\":{\"type\":\"json_schema\",\"name\":\"a/b\",\"schema\":{}}}"), "text.format.name" },
        { "text.format schema with 1,001 anyOf", Response("\"text\":{\"format\":{\"type\":\"json_schema\",\"name\":\"a\",\"schema\":{\"anyOf\":[" + string.Join(",", Enumerable.Repeat("{}", 1001)) + "]}}}"), "text.format.schema.anyOf" },
        { "function parameters nested 33 deep", Response("\"tools\":[{\"type\":\"function\",\"name\":\"f\",\"parameters\":" + Nested(32) + "}]"),
            "tools[0].parameters" + string.Concat(Enumerable.Repeat(".items", 32)) },
    };

    [Theory]
    [MemberData(nameof(ResponseRequests))]
    public async Task Bad_responses_request_is_a_400_naming_the_field(string because, string body, string param)
    {
        using var response = await server.Client.PostAsync("/v1/responses", new StringContent(body, Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);

        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{because}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken)}");
        var error = await ErrorEnvelope.ReadAsync(response);
        Assert.Equal(param, error.Param);
        Assert.Equal("invalid_request_error", error.Type);
        Assert.Null(server.Backend.LastMessages);
    }

    // An array of arrays ... of integers, `depth` schemas below the root.
    private static string Nested(int depth) =>
        string.Concat(Enumerable.Repeat("""{"type":"array","items":""", depth)) + """{"type":"integer"}""" + new string('}', depth);

    [Fact]
    public async Task Invalid_utf8_in_a_message_is_a_400()
    {
        using var content = new ByteArrayContent([.. "{\"model\":\"text\",\"messages\":[{\"role\":\"user\",\"content\":\""u8, 0xFF, 0xFE, .. "\"}]}"u8]);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");

        using var response = await server.Client.PostAsync("/v1/chat/completions", content, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("invalid_json", (await ErrorEnvelope.ReadAsync(response)).Code);
    }

    [Theory]
    [MemberData(nameof(ChatRequests))]
    public async Task Bad_chat_request_is_a_4xx_envelope_naming_the_field(string because, string body, int status, string? param)
    {
        using var response = await server.Client.PostAsync("/v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);

        Assert.True((int)response.StatusCode == status, $"{because}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken)}");
        var error = await ErrorEnvelope.ReadAsync(response);
        Assert.Equal(param, error.Param);
        Assert.Equal("invalid_request_error", error.Type);
        Assert.False(string.IsNullOrWhiteSpace(error.Message));
        Assert.DoesNotContain("System.", error.Message);
        Assert.Null(server.Backend.LastMessages);
    }

    [Theory]
    [InlineData("\"temperature\":\"0.7\"", "Invalid type for 'temperature': expected a number, but got a string.")]
    [InlineData("\"max_tokens\":\"5\"", "Invalid type for 'max_tokens': expected an integer, but got a string.")]
    [InlineData("\"max_tokens\":1.5", "Invalid type for 'max_tokens': expected an integer, but got a number.")]
    [InlineData("\"stream\":\"yes\"", "Invalid type for 'stream': expected a boolean, but got a string.")]
    [InlineData("\"seed\":\"x\"", "Invalid type for 'seed': expected an integer, but got a string.")]
    [InlineData("\"user\":5", "Invalid type for 'user': expected a string, but got a number.")]
    [InlineData("\"n\":\"1\"", "Invalid type for 'n': expected an integer, but got a string.")]
    [InlineData("\"stream_options\":true", "Invalid type for 'stream_options': expected an object, but got a boolean.")]
    [InlineData("\"tools\":{}", "Invalid type for 'tools': expected an array, but got an object.")]
    [InlineData("\"tools\":[{\"type\":\"function\",\"function\":{\"name\":7}}]", "Invalid type for 'tools[0].function.name': expected a string, but got a number.")]
    public async Task Wrong_type_is_named_from_the_contract_with_what_was_sent(string field, string message)
    {
        using var response = await server.Client.PostAsync("/v1/chat/completions", new StringContent(Chat(field), Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = await ErrorEnvelope.ReadAsync(response);
        Assert.Equal(message, error.Message);
        Assert.Equal("invalid_type", error.Code);
    }

    [Theory]
    [InlineData("""{"model":42,"messages":[]}""", "Invalid type for 'model': expected a string, but got a number.")]
    [InlineData("""{"model":"text","messages":"hi"}""", "Invalid type for 'messages': expected an array, but got a string.")]
    [InlineData("""{"model":"text","messages":["hi"]}""", "Invalid type for 'messages[0]': expected an object, but got a string.")]
    [InlineData("""{"model":"text","messages":[{"role":1}]}""", "Invalid type for 'messages[0].role': expected a string, but got a number.")]
    [InlineData("[]", "The request body must be a JSON object, but got an array.")]
    public async Task Wrong_type_in_the_body_structure_is_named_from_the_contract(string body, string message)
    {
        using var response = await server.Client.PostAsync("/v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);

        Assert.Equal(message, (await ErrorEnvelope.ReadAsync(response)).Message);
    }

    [Fact]
    public async Task Body_over_the_size_limit_is_413()
    {
        var huge = $$"""{"model":"text","messages":[{"role":"user","content":"{{new string('x', 2 * Server.MaxRequestBodySize)}}"}]}""";

        using var response = await server.Client.PostAsync("/v1/chat/completions", new StringContent(huge, Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("request_too_large", (await ErrorEnvelope.ReadAsync(response)).Code);
    }

    [Theory]
    [InlineData("GET", "/v1/chat/completions", 405)]
    [InlineData("POST", "/v1/completions-of-the-future", 404)]
    [InlineData("DELETE", "/v1/models/text", 405)]
    public async Task Unknown_route_or_method_gets_the_envelope(string method, string path, int status)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path);

        using var response = await server.Client.SendAsync(request, TestContext.Current.CancellationToken);

        Assert.Equal(status, (int)response.StatusCode);
        await ErrorEnvelope.ReadAsync(response);
    }

    [Theory]
    [InlineData("no input", """{"model":"text"}""", "input")]
    [InlineData("input as a number", """{"model":"text","input":5}""", "input")]
    [InlineData("empty input array", """{"model":"text","input":[]}""", "input")]
    [InlineData("token arrays", """{"model":"text","input":[[1,2,3]]}""", "input[0]")]
    [InlineData("unknown encoding", """{"model":"text","input":"hi","encoding_format":"hex"}""", "encoding_format")]
    [InlineData("model that cannot embed", """{"model":"chat-only","input":"hi"}""", "model")]
    public async Task Bad_embeddings_request_is_a_400_naming_the_field(string because, string body, string param)
    {
        using var response = await server.Client.PostAsync("/v1/embeddings", new StringContent(body, Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);

        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, because);
        Assert.Equal(param, (await ErrorEnvelope.ReadAsync(response)).Param);
    }

    /// <summary>One API for the whole table: a text-only model that embeds, and one that only chats.</summary>
    public sealed class Server : IAsyncLifetime
    {
        // Lowered from 16 MiB so that the client finishes sending before the answer comes.
        public const int MaxRequestBodySize = 64 * 1024;

        private ApiApplication? _app;

        public InMemoryChatClient Backend { get; } = InMemoryChatClient.Replying(["never"]);

        public HttpClient Client { get; private set; } = null!;

        public ValueTask InitializeAsync()
        {
            Backend.Embeddings = new HashEmbeddingGenerator();
            _app = InMemoryBackend.Serve(
                new Dictionary<string, string?> { ["LlmStack:MaxRequestBodySize"] = MaxRequestBodySize.ToString(System.Globalization.CultureInfo.InvariantCulture) },
                ("text", Backend),
                ("chat-only", InMemoryChatClient.Replying(["never"])));
            Client = _app.CreateClient();
            return ValueTask.CompletedTask;
        }

        public async ValueTask DisposeAsync()
        {
            Client.Dispose();
            if (_app is not null)
            {
                await _app.DisposeAsync();
            }
        }
    }
}
