using System.Text;
using System.Text.Json;
using LlmStack.Api.Backends;
using LlmStack.Api.Contracts;
using LlmStack.Api.Endpoints;
using LlmStack.Api.Errors;
using LlmStack.Api.Pipeline;
using Microsoft.AspNetCore.Http.HttpResults;

namespace LlmStack.Api.ChatCompletions;

/// <summary>
/// <c>POST /tokenize</c> and <c>POST /detokenize</c> at the server's root, as vLLM and llama-server serve them. They
/// belong to the chat surface: a conversation (<c>messages</c>) is mapped by the chat completion's own rules and
/// tokenized exactly as its prompt is, so the count is the <c>usage.prompt_tokens</c> the same chat reports.
/// </summary>
internal static class TokenizeApi
{
    public static IEndpointRouteBuilder MapTokenizeApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("").WithTags("Tokenization");
        api.MapPost("/tokenize", Tokenize)
            .WithName(nameof(Tokenize))
            .CallsModel("tokenize")
            .WithSummary("Tokenizes a text, or a conversation with the model's chat template, with the model's own tokenizer.")
            .Accepts<TokenizeRequest>("application/json")
            .Produces<TokenizeResponse>(StatusCodes.Status200OK, "application/json")
            .ProducesOpenAIErrors(ModelCallMetadata.ModelCallErrors);
        api.MapPost("/detokenize", Detokenize)
            .WithName(nameof(Detokenize))
            .CallsModel("detokenize")
            .WithSummary("Turns token ids back into text, special tokens written out.")
            .Accepts<DetokenizeRequest>("application/json")
            .Produces<DetokenizeResponse>(StatusCodes.Status200OK, "application/json")
            .ProducesOpenAIErrors(ModelCallMetadata.ModelCallErrors);
        return app;
    }

    public static async Task<Results<JsonHttpResult<TokenizeResponse>, JsonHttpResult<TokenizeWithPiecesResponse>>> Tokenize(
        HttpContext context, ModelCalls calls, ModelCatalog catalog)
    {
        var (call, body) = await calls.StartAsync(context, ApiJsonContext.Default.TokenizeRequest, b => b.Model ?? SoleModel(catalog));
        var tokenizer = call.Tokenizer();
        var input = ToInput(body, call);
        var tokenized = await tokenizer.TokenizeAsync(input, call.Aborted);
        var ids = tokenized.Tokens.ToList();
        if (body.WithPieces == true)
        {
            return TypedResults.Json(new TokenizeWithPiecesResponse
            {
                Count = ids.Count,
                MaxModelLen = tokenized.MaxModelLength,
                Tokens = [.. ids.Select((id, i) => new TokenPiece(id, PieceJson(tokenized.Pieces![i])))],
            }, ApiJsonContext.Default.TokenizeWithPiecesResponse);
        }
        return TypedResults.Json(new TokenizeResponse
        {
            Count = ids.Count,
            MaxModelLen = tokenized.MaxModelLength,
            Tokens = ids,
            TokenStrs = body.ReturnTokenStrs == true ? [.. tokenized.Pieces!.Select(piece => Encoding.UTF8.GetString(piece))] : null,
        }, ApiJsonContext.Default.TokenizeResponse);
    }

    public static async Task<JsonHttpResult<DetokenizeResponse>> Detokenize(HttpContext context, ModelCalls calls, ModelCatalog catalog)
    {
        var (call, body) = await calls.StartAsync(context, ApiJsonContext.Default.DetokenizeRequest, b => b.Model ?? SoleModel(catalog));
        var tokenizer = call.Tokenizer();
        if (body.Tokens is not { } tokens)
        {
            throw ApiErrorException.InvalidRequest("Missing required parameter: 'tokens'.", "tokens", "missing_required_parameter");
        }
        for (var i = 0; i < tokens.Count; i++)
        {
            if (tokens[i] < 0)
            {
                throw ApiErrorException.InvalidRequest($"{tokens[i]} is less than the minimum of 0 - 'tokens[{i}]'.", $"tokens[{i}]");
            }
        }
        var text = await tokenizer.DetokenizeAsync(tokens, call.Aborted);
        return TypedResults.Json(new DetokenizeResponse(text, text), ApiJsonContext.Default.DetokenizeResponse);
    }

    // llama-server serves one model and its clients name none.
    private static string? SoleModel(ModelCatalog catalog) => catalog.Models is [var only] ? only.Id : null;

    private static TokenizeInput ToInput(TokenizeRequest body, ModelCall call)
    {
        var withPieces = body.WithPieces == true || body.ReturnTokenStrs == true;
        var forms = (body.Prompt is not null ? 1 : 0) + (body.Content is not null ? 1 : 0) + (body.Messages is not null ? 1 : 0);
        if (forms != 1)
        {
            throw ApiErrorException.InvalidRequest(
                forms == 0
                    ? "Missing required parameter: send the text as 'prompt' (or 'content'), or a conversation as 'messages'."
                    : "Send one of 'prompt', 'content' or 'messages', not several.",
                body.Prompt is null && body.Content is null ? "prompt" : "messages",
                forms == 0 ? "missing_required_parameter" : "invalid_value");
        }
        if (body.Messages is not null)
        {
            if (body.AddSpecialTokens is not null || body.AddSpecial is not null || body.ParseSpecial is not null)
            {
                throw ApiErrorException.InvalidRequest(
                    "'add_special_tokens', 'add_special' and 'parse_special' apply to a text; a conversation is tokenized as its chat completion's prompt.",
                    body.AddSpecialTokens is not null ? "add_special_tokens" : body.AddSpecial is not null ? "add_special" : "parse_special");
            }
            // The chat completion's own rules: the same messages, tools and template give the same prompt.
            var chat = new ChatCompletionRequest { Model = body.Model, Messages = body.Messages, Tools = body.Tools }.ToChatRequest(call.Model, call.MaxOutputTokens);
            return new TokenizeInput
            {
                Messages = chat.Messages,
                Options = chat.Options,
                AddGenerationPrompt = body.AddGenerationPrompt ?? true,
                WireMessages = JsonSerializer.SerializeToElement(body.Messages, ApiJsonContext.Default.ListChatCompletionMessage),
                WireTools = body.Tools is null ? null : JsonSerializer.SerializeToElement(body.Tools, ApiJsonContext.Default.ListToolDefinition),
                WithPieces = withPieces,
            };
        }
        if (body.Tools is not null || body.AddGenerationPrompt is not null)
        {
            throw ApiErrorException.InvalidRequest("'tools' and 'add_generation_prompt' apply to a conversation ('messages'), not to a text.",
                body.Tools is not null ? "tools" : "add_generation_prompt");
        }
        // Each server's defaults go with its own field: vLLM adds the BOS token, llama-server does not.
        return body.Prompt is { } prompt
            ? new TokenizeInput { Text = prompt, AddSpecial = body.AddSpecialTokens ?? body.AddSpecial ?? true, ParseSpecial = body.ParseSpecial ?? true, WithPieces = withPieces }
            : new TokenizeInput { Text = body.Content, AddSpecial = body.AddSpecial ?? body.AddSpecialTokens ?? false, ParseSpecial = body.ParseSpecial ?? true, WithPieces = withPieces };
    }

    // llama-server's shape: the text when the piece is valid UTF-8 on its own, else its bytes.
    private static JsonElement PieceJson(byte[] piece) => System.Text.Unicode.Utf8.IsValid(piece)
        ? JsonSerializer.SerializeToElement(Encoding.UTF8.GetString(piece), ApiJsonContext.Default.String)
        : JsonSerializer.SerializeToElement([.. piece], ApiJsonContext.Default.ListByte);
}
