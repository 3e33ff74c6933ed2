using System.Text.Json;
using LlmStack.Api.Backends;
using LlmStack.Api.Contracts;
using LlmStack.Api.Endpoints;
using LlmStack.Api.Errors;
using Microsoft.Extensions.AI;

namespace LlmStack.Api.Completions;

/// <summary>What a valid text completion request asks of a model, in Microsoft.Extensions.AI's terms.</summary>
/// <param name="Prompt">The prompt as the client wrote it (what <c>echo</c> writes back).</param>
internal sealed record TextCompletionCall(string Prompt, List<ChatMessage> Messages, ChatOptions Options, bool Stream, bool IncludeUsage, bool Echo);

/// <summary>
/// Reads a <see cref="CompletionRequest"/> into one raw prompt (<see cref="LlmStackChatOptions.RawPromptKey"/>: no chat
/// template) and the <see cref="GenerationParameters"/> that <see cref="OpenAIRequestRules"/> check, as chat and
/// Responses do. Every refusal is a 400 naming the field at fault.
/// </summary>
internal static class CompletionRequestMapping
{
    /// <summary>OpenAI's <c>max_tokens</c> when a completion request leaves it out (vLLM's too).</summary>
    public const int DefaultMaxTokens = 16;

    /// <param name="maxOutputTokens">The ceiling on max_tokens (<c>LlmStack:MaxOutputTokens</c>).</param>
    public static TextCompletionCall ToCompletionCall(this CompletionRequest request, int maxOutputTokens)
    {
        var stream = request.Stream ?? false;
        if (request.StreamOptions is not null && !stream)
        {
            throw ApiErrorException.InvalidRequest("'stream_options' is only allowed when 'stream' is true.", "stream_options");
        }
        var prompt = ToPrompt(request.Prompt);
        var suffix = string.IsNullOrEmpty(request.Suffix) ? null : request.Suffix;
        if (suffix is not null && request.Echo == true)
        {
            throw ApiErrorException.InvalidRequest("'echo' cannot be used with 'suffix': the prompt is not the start of the text.", "echo");
        }
        if (request.BestOf is { } bestOf && bestOf != (request.N ?? 1))
        {
            throw ApiErrorException.InvalidRequest(
                "'best_of' must equal 'n' (or be left out): this server returns every choice it generates.", "best_of", "unsupported_value");
        }

        var options = OpenAIRequestRules.ToChatOptions(GenerationParameters.From(request, "max_tokens", request.MaxTokens) with
        {
            Choices = request.N,
            LogprobsParam = request.Logprobs is not null ? "logprobs" : null,
        }, maxOutputTokens);
        options.MaxOutputTokens ??= Math.Min(DefaultMaxTokens, maxOutputTokens);
        LlmStackChatOptions.SetRawPrompt(options, suffix);
        return new TextCompletionCall(prompt, [new ChatMessage(ChatRole.User, prompt)], options, stream,
            request.StreamOptions?.IncludeUsage ?? false, request.Echo ?? false);
    }

    private static string ToPrompt(JsonElement? prompt)
    {
        switch (prompt?.ValueKind)
        {
            case null or JsonValueKind.Null or JsonValueKind.Undefined:
                throw ApiErrorException.InvalidRequest("Missing required parameter: 'prompt'.", "prompt", "missing_required_parameter");
            case JsonValueKind.String:
                return NonEmpty(prompt.Value.GetString()!, "prompt");
            case JsonValueKind.Array:
                var prompts = new List<string>();
                var i = 0;
                foreach (var item in prompt.Value.EnumerateArray())
                {
                    var param = $"prompt[{i++}]";
                    prompts.Add(item.ValueKind switch
                    {
                        JsonValueKind.String => NonEmpty(item.GetString()!, param),
                        JsonValueKind.Number or JsonValueKind.Array => throw TokenArrays(param),
                        _ => throw ApiErrorException.InvalidType(param, "a string", JsonKinds.Describe(item)),
                    });
                }
                return prompts.Count switch
                {
                    0 => throw ApiErrorException.InvalidRequest("'prompt' must contain at least one prompt.", "prompt"),
                    1 => prompts[0],
                    _ => throw ApiErrorException.InvalidRequest(
                        $"'prompt' holds {prompts.Count} prompts; this server completes one prompt per request: send one request each.", "prompt", "unsupported_value"),
                };
            default:
                throw ApiErrorException.InvalidType("prompt", "a string or an array of strings", JsonKinds.Describe(prompt.Value));
        }

        static string NonEmpty(string text, string param) =>
            text.Length > 0 ? text : throw ApiErrorException.InvalidRequest($"'{param}' must not be empty.", param);

        // Token ids are a tokenizer's, and this server's models each have their own: text is the one portable prompt.
        static ApiErrorException TokenArrays(string param) => ApiErrorException.InvalidRequest(
            $"'{param}': prompts given as token ids are not supported; send the prompt as text.", param, "unsupported_value");
    }
}
