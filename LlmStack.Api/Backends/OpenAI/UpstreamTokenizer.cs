using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace LlmStack.Api.Backends.OpenAI;

/// <summary>
/// An upstream's <c>/tokenize</c> and <c>/detokenize</c> (at the server's root). The request is written so that both
/// vLLM and llama-server read it - the text as <c>prompt</c> (vLLM) and <c>content</c> (llama-server), each one's
/// flags - and either answer is read: vLLM's <c>tokens</c> + <c>token_strs</c> + <c>max_model_len</c>, llama-server's
/// <c>tokens</c> (ids, or <c>{id, piece}</c> with <c>with_pieces</c>). A conversation goes as vLLM's chat form
/// (<c>messages</c>, <c>tools</c>, <c>add_generation_prompt</c>); llama-server's <c>/tokenize</c> takes text only.
/// </summary>
internal sealed class UpstreamTokenizer(UpstreamEndpoints upstream) : IModelTokenizer
{
    public async Task<TokenizedText> TokenizeAsync(TokenizeInput input, CancellationToken cancellationToken)
    {
        var body = new JsonObject { ["model"] = upstream.Model };
        if (input.Messages is not null)
        {
            body["messages"] = JsonNode.Parse(input.WireMessages!.Value.GetRawText());
            if (input.WireTools is { ValueKind: JsonValueKind.Array } tools)
            {
                body["tools"] = JsonNode.Parse(tools.GetRawText());
            }
            body["add_generation_prompt"] = input.AddGenerationPrompt;
        }
        else
        {
            body["prompt"] = input.Text;
            body["content"] = input.Text;
            body["add_special_tokens"] = input.AddSpecial;
            body["add_special"] = input.AddSpecial;
            body["parse_special"] = input.ParseSpecial;
        }
        if (input.WithPieces)
        {
            body["return_token_strs"] = true;
            body["with_pieces"] = true;
        }

        var answer = await upstream.PostAsync(upstream.ServerRoot, "tokenize", body, cancellationToken);
        if (answer.ValueKind != JsonValueKind.Object || !answer.TryGetProperty("tokens", out var tokens) || tokens.ValueKind != JsonValueKind.Array)
        {
            throw upstream.Malformed("/tokenize", "no 'tokens' array");
        }
        if (input.Messages is not null && !answer.TryGetProperty("count", out _))
        {
            // llama-server answers a body without text with no tokens: it has no chat form.
            throw upstream.Malformed("/tokenize", "the server does not tokenize conversations (llama-server's /tokenize takes text only); send 'content' or 'prompt'");
        }
        var ids = new List<int>();
        var pieces = input.WithPieces ? new List<byte[]>() : null;
        foreach (var token in tokens.EnumerateArray())
        {
            switch (token.ValueKind)
            {
                case JsonValueKind.Number when token.TryGetInt32(out var id):
                    ids.Add(id);
                    break;
                case JsonValueKind.Object when token.TryGetProperty("id", out var id) && id.TryGetInt32(out var value):
                    ids.Add(value);
                    pieces?.Add(token.TryGetProperty("piece", out var piece) ? PieceBytes(piece) : []);
                    break;
                default:
                    throw upstream.Malformed("/tokenize", $"a token is {token.ValueKind}, not an id");
            }
        }
        if (pieces is not null && pieces.Count == 0 && answer.TryGetProperty("token_strs", out var strings) && strings.ValueKind == JsonValueKind.Array)
        {
            pieces.AddRange(strings.EnumerateArray().Select(PieceBytes));
        }
        if (pieces is not null && pieces.Count != ids.Count)
        {
            throw upstream.Malformed("/tokenize", $"{pieces.Count} pieces for {ids.Count} tokens");
        }
        int? maxModelLength = answer.TryGetProperty("max_model_len", out var max) && max.TryGetInt32(out var length) ? length : null;
        return new TokenizedText(ids, pieces, maxModelLength);
    }

    public async Task<string> DetokenizeAsync(IReadOnlyList<int> tokens, CancellationToken cancellationToken)
    {
        var body = new JsonObject { ["model"] = upstream.Model, ["tokens"] = new JsonArray([.. tokens.Select(t => (JsonNode)t)]) };
        var answer = await upstream.PostAsync(upstream.ServerRoot, "detokenize", body, cancellationToken);
        // vLLM answers "prompt", llama-server "content".
        foreach (var name in (ReadOnlySpan<string>)["prompt", "content"])
        {
            if (answer.ValueKind == JsonValueKind.Object && answer.TryGetProperty(name, out var text) && text.ValueKind == JsonValueKind.String)
            {
                return text.GetString()!;
            }
        }
        throw upstream.Malformed("/detokenize", "no 'prompt' or 'content' text");
    }

    // llama-server writes a piece that is not valid UTF-8 as its bytes.
    private static byte[] PieceBytes(JsonElement piece) => piece.ValueKind switch
    {
        JsonValueKind.String => Encoding.UTF8.GetBytes(piece.GetString()!),
        JsonValueKind.Array => [.. piece.EnumerateArray().Select(b => b.TryGetByte(out var value) ? value : (byte)'?')],
        _ => [],
    };
}
