using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace LlmStack.Benchmarks.Soak;

/// <summary>One generated request: where it goes and the bytes of its body.</summary>
public sealed record FuzzedRequest(string Path, byte[] Body, bool Stream)
{
    public string Describe() => $"POST {Path} {Encoding.UTF8.GetString(Body.AsSpan(0, Math.Min(Body.Length, 300)))}";
}

/// <summary>
/// Generates request bodies for chat completions, the Responses API and embeddings, streamed and not, two in three chats
/// and responses asking for structured output (a JSON schema from <see cref="SchemaFuzzer"/>, JSON mode, or a required
/// tool call with generated parameters): valid ones, then mutated at the JSON level (a value of another type, out of
/// range, huge, missing, unknown, deeply nested - inside the schemas too) and at the byte level (truncated, flipped,
/// invalid UTF-8). Valid bodies ask for at most 16 output tokens. Deterministic for a seed, so a failure can be
/// replayed. Used by the fuzz test and by the soak's "bad body" requests.
/// </summary>
public sealed class RequestFuzzer(string chatModel, string embeddingModel, int seed)
{
    private readonly Random _random = new(seed);
    private readonly SchemaFuzzer _schemas = new(new Random(seed + 1));

    // Deeper than the server reads (64): nesting beyond its limit is one of the mutations.
    private static readonly JsonSerializerOptions Writer = new() { MaxDepth = 256 };

    private static byte[] Serialize(JsonObject body) => JsonSerializer.SerializeToUtf8Bytes(body, Writer);

    private static readonly string[] Strings =
    [
        "", " ", "user", "assistant", "system", "tool", "developer", "function", "banana", "Hi!", "\u0000", "\ud83d\ude00 emoji",
        "\u202e right-to-left", "<script>alert(1)</script>", "{\"nested\":\"json\"}", "null", "-1", "1e309", "data: [DONE]\n\n",
        new string('x', 5000), "json_object", "json_schema", "text", "auto", "none", "required", "float", "base64",
        "object", "string", "array", "integer", "#/$defs/d0", "#", "message", "input_text", "function_call_output",
    ];

    /// <summary>A fresh request: about one in ten valid as generated, the rest mutated.</summary>
    public FuzzedRequest Next()
    {
        var kind = _random.Next(10);
        var stream = kind % 2 == 0;
        var (path, body) = kind switch
        {
            < 4 => ("/v1/chat/completions", ValidChat(stream)),
            < 7 => ("/v1/responses", ValidResponse(stream)),
            _ => ("/v1/embeddings", ValidEmbeddings()),
        };
        if (_random.Next(10) == 0)
        {
            return new FuzzedRequest(path, Serialize(body), stream);
        }
        if (_random.Next(4) == 0)
        {
            return new FuzzedRequest(path, MutateBytes(Serialize(body)), stream);
        }
        var mutations = 1 + _random.Next(3);
        for (var i = 0; i < mutations; i++)
        {
            MutateJson(body);
        }
        return new FuzzedRequest(path, Serialize(body), stream);
    }

    private JsonObject ValidChat(bool stream)
    {
        var chat = new JsonObject
        {
            ["model"] = chatModel,
            ["messages"] = new JsonArray(
                new JsonObject { ["role"] = "system", ["content"] = "Be brief." },
                new JsonObject { ["role"] = "user", ["content"] = "Hi!" }),
            ["max_tokens"] = 1 + _random.Next(16),
            ["stream"] = stream,
        };
        if (stream && _random.Next(2) == 0)
        {
            chat["stream_options"] = new JsonObject { ["include_usage"] = true };
        }
        if (_random.Next(3) == 0)
        {
            chat["temperature"] = Math.Round(_random.NextDouble() * 2, 2);
        }
        switch (_random.Next(6))
        {
            case 0 or 1:
                chat["response_format"] = new JsonObject
                {
                    ["type"] = "json_schema",
                    ["json_schema"] = new JsonObject { ["name"] = "answer", ["strict"] = _random.Next(4) != 0, ["schema"] = _schemas.Next() },
                };
                break;
            case 2:
                chat["response_format"] = new JsonObject { ["type"] = "json_object" };
                break;
            case 3:
                chat["tools"] = new JsonArray(new JsonObject
                {
                    ["type"] = "function",
                    ["function"] = new JsonObject { ["name"] = "act", ["strict"] = _random.Next(2) == 0, ["parameters"] = _schemas.Next() },
                });
                chat["tool_choice"] = _random.Next(2) == 0 ? "required" : JsonNode.Parse("""{"type":"function","function":{"name":"act"}}""");
                break;
        }
        return chat;
    }

    private JsonObject ValidResponse(bool stream)
    {
        var response = new JsonObject
        {
            ["model"] = chatModel,
            ["input"] = _random.Next(2) == 0
                ? "Hi!"
                : new JsonArray(new JsonObject { ["role"] = "user", ["content"] = new JsonArray(new JsonObject { ["type"] = "input_text", ["text"] = "Hi!" }) }),
            ["max_output_tokens"] = 1 + _random.Next(16),
            ["stream"] = stream,
            ["store"] = _random.Next(4) == 0,
        };
        if (_random.Next(3) == 0)
        {
            response["instructions"] = "Be brief.";
        }
        switch (_random.Next(6))
        {
            case 0 or 1:
                response["text"] = new JsonObject
                {
                    ["format"] = new JsonObject { ["type"] = "json_schema", ["name"] = "answer", ["strict"] = _random.Next(4) != 0, ["schema"] = _schemas.Next() },
                };
                break;
            case 2:
                response["text"] = new JsonObject { ["format"] = new JsonObject { ["type"] = "json_object" } };
                break;
            case 3:
                response["tools"] = new JsonArray(new JsonObject
                {
                    ["type"] = "function", ["name"] = "act", ["strict"] = _random.Next(2) == 0, ["parameters"] = _schemas.Next(),
                });
                response["tool_choice"] = "required";
                break;
        }
        return response;
    }

    private JsonObject ValidEmbeddings() => new()
    {
        ["model"] = embeddingModel,
        ["input"] = _random.Next(2) == 0 ? "hello" : new JsonArray("hello", "world"),
    };

    private void MutateJson(JsonObject body)
    {
        var containers = new List<JsonNode>();
        Collect(body, containers);
        var target = containers[_random.Next(containers.Count)];
        switch (target)
        {
            case JsonObject obj when obj.Count > 0 && _random.Next(3) == 0:
                obj.Remove(obj.ElementAt(_random.Next(obj.Count)).Key);
                break;
            case JsonObject obj when obj.Count > 0:
                obj[obj.ElementAt(_random.Next(obj.Count)).Key] = RandomValue(depth: 0);
                break;
            case JsonObject obj:
                obj[Pick(KnownNames)] = RandomValue(depth: 0);
                break;
            case JsonArray array when array.Count > 0 && _random.Next(2) == 0:
                array[_random.Next(array.Count)] = RandomValue(depth: 0);
                break;
            case JsonArray array:
                array.Add(RandomValue(depth: 0));
                break;
        }
        if (_random.Next(5) == 0)
        {
            body[Pick(KnownNames)] = RandomValue(depth: 0);
        }
    }

    private static readonly string[] KnownNames =
    [
        "model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "stop", "seed", "n", "stream",
        "stream_options", "response_format", "tools", "tool_choice", "parallel_tool_calls", "presence_penalty",
        "frequency_penalty", "logprobs", "top_logprobs", "user", "input", "encoding_format", "dimensions", "content",
        "role", "name", "tool_calls", "tool_call_id", "type", "text", "image_url", "json_schema", "function", "unknown_field",
        "max_output_tokens", "instructions", "format", "store", "previous_response_id", "metadata", "strict", "schema",
        "parameters", "properties", "required", "items", "prefixItems", "additionalProperties", "$ref", "$defs", "enum",
        "const", "anyOf", "oneOf", "allOf", "minLength", "maxLength", "minItems", "maxItems", "minimum", "maximum",
    ];

    private JsonNode? RandomValue(int depth) => _random.Next(depth > 2 ? 7 : 11) switch
    {
        0 => null,
        1 => JsonValue.Create(_random.Next(2) == 0),
        2 => JsonValue.Create(Pick([0, -1, 1, 2, 4, 5, 16, 100, 2000, 2001, 4096, 10_000, 32768, 32769, 100_001, int.MaxValue, int.MinValue])),
        3 => JsonValue.Create(Pick([0.5, -0.5, 2.5, 1e10, -1e10, 1e-300, 3.4028235e39])),
        4 => JsonValue.Create(long.MaxValue),
        5 or 6 => JsonValue.Create(Pick(Strings)),
        7 => new JsonArray([.. Enumerable.Range(0, _random.Next(4)).Select(_ => RandomValue(depth + 1))]),
        8 => Message(depth),
        9 => DeeplyNested(),
        10 when depth == 0 && _random.Next(2) == 0 => _schemas.Next(depth: 2),
        _ => new JsonObject { [Pick(KnownNames)] = RandomValue(depth + 1), [Pick(KnownNames)] = RandomValue(depth + 1) },
    };

    private JsonNode Message(int depth) => new JsonObject
    {
        ["role"] = Pick(Strings),
        ["content"] = _random.Next(3) == 0
            ? new JsonArray(new JsonObject { ["type"] = Pick(["text", "image_url", "input_audio", "banana"]), ["text"] = RandomValue(depth + 1) })
            : RandomValue(depth + 1),
    };

    private JsonNode DeeplyNested()
    {
        JsonNode node = JsonValue.Create(1);
        var depth = _random.Next(2) == 0 ? 70 : 10;
        for (var i = 0; i < depth; i++)
        {
            node = new JsonArray(node);
        }
        return node;
    }

    private byte[] MutateBytes(byte[] body)
    {
        switch (_random.Next(6))
        {
            case 0:
                return body[.._random.Next(body.Length)];
            case 1:
                var flipped = (byte[])body.Clone();
                for (var i = 0; i < 1 + _random.Next(4); i++)
                {
                    flipped[_random.Next(flipped.Length)] ^= (byte)(1 << _random.Next(8));
                }
                return flipped;
            case 2:
                // Invalid UTF-8 inside a string.
                var at = Array.IndexOf(body, (byte)'H');
                return at < 0 ? [0xC3, 0x28] : [.. body[..at], 0xFF, 0xFE, 0xC3, .. body[at..]];
            case 3 when _random.Next(2) == 0:
                return [];
            case 3:
                // Half a surrogate pair, escaped: well-formed JSON, but no string.
                var quote = Array.IndexOf(body, (byte)'H');
                return quote < 0 ? [] : [.. body[..quote], .. "\\ud800"u8, .. body[quote..]];
            case 4:
                return Encoding.UTF8.GetBytes(Pick(["null", "[]", "\"text\"", "42", "{", "}", "{}", "{\"model\":}", "<xml/>", "{\"a\":1}{\"b\":2}"]));
            default:
                return [.. body, .. Encoding.UTF8.GetBytes(Pick([",", "}", " garbage", "\u0000", "]"]))];
        }
    }

    private static void Collect(JsonNode node, List<JsonNode> into)
    {
        into.Add(node);
        var children = node switch
        {
            JsonObject obj => obj.Select(p => p.Value),
            JsonArray array => array.AsEnumerable(),
            _ => [],
        };
        foreach (var child in children)
        {
            if (child is JsonObject or JsonArray)
            {
                Collect(child, into);
            }
        }
    }

    private T Pick<T>(IReadOnlyList<T> items) => items[_random.Next(items.Count)];
}
