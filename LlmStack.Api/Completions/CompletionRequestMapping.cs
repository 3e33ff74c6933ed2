using System.Text.Json;
using LlmStack.Api.Backends;
using LlmStack.Api.Contracts;
using LlmStack.Api.Endpoints;
using LlmStack.Api.Errors;
using Microsoft.Extensions.AI;

namespace LlmStack.Api.Completions;

/// <summary>What a valid text completion request asks of a model, in Microsoft.Extensions.AI's terms.</summary>
/// <param name="Prompts">The prompts as the client wrote them (what <c>echo</c> writes back), one message each.</param>
/// <param name="Choices">The choices of each prompt (<c>n</c>): choice <c>i</c> of prompt <c>p</c> is the reply's <c>p * n + i</c>.</param>
/// <param name="Logprobs">Whether the request asked for log probabilities.</param>
internal sealed record TextCompletionCall(
    IReadOnlyList<string> Prompts, int Choices, List<ChatMessage> Messages, ChatOptions Options, bool Stream, bool IncludeUsage, bool Echo, bool Logprobs)
{
    /// <summary>The prompt a choice of the reply continues.</summary>
    public string PromptOf(int choice) => Prompts[choice / Choices];
}

/// <summary>
/// Reads a <see cref="CompletionRequest"/> into raw prompts (<see cref="LlmStackChatOptions.RawPromptKey"/>: no chat
/// template) and the <see cref="GenerationParameters"/> that <see cref="OpenAIRequestRules"/> check, as chat and
/// Responses do. Every refusal is a 400 naming the field at fault.
/// </summary>
internal static class CompletionRequestMapping
{
    /// <summary>OpenAI's <c>max_tokens</c> when a completion request leaves it out (vLLM's too).</summary>
    public const int DefaultMaxTokens = 16;

    /// <summary>OpenAI's ceiling on a completion's <c>logprobs</c>.</summary>
    public const int MaxLogprobs = 5;

    /// <param name="maxOutputTokens">The ceiling on max_tokens (<c>LlmStack:MaxOutputTokens</c>).</param>
    public static TextCompletionCall ToCompletionCall(this CompletionRequest request, int maxOutputTokens)
    {
        var stream = request.Stream ?? false;
        if (request.StreamOptions is not null && !stream)
        {
            throw ApiErrorException.InvalidRequest("'stream_options' is only allowed when 'stream' is true.", "stream_options");
        }
        var prompts = ToPrompts(request.Prompt);
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
            TopLogprobs = OpenAIRequestRules.InRange(request.Logprobs, 0, MaxLogprobs, "logprobs"),
        }, maxOutputTokens);
        options.MaxOutputTokens ??= Math.Min(DefaultMaxTokens, maxOutputTokens);
        LlmStackChatOptions.SetRawPrompt(options, suffix);
        // Every choice of every prompt is a sequence the model generates at once, counted against the same ceiling as n.
        var n = LlmStackChatOptions.ChoicesOf(options);
        if (prompts.Count * n > LlmStackChatOptions.MaxChoices)
        {
            throw ApiErrorException.InvalidRequest(
                $"{prompts.Count} prompts of {n} choices each are {prompts.Count * n} completions; one request may ask for at most {LlmStackChatOptions.MaxChoices} (prompts times 'n').",
                n > 1 ? "n" : "prompt", "unsupported_value");
        }
        LlmStackChatOptions.SetChoices(options, prompts.Count * n);
        return new TextCompletionCall(prompts, n, [.. prompts.Select(prompt => new ChatMessage(ChatRole.User, prompt))], options, stream,
            request.StreamOptions?.IncludeUsage ?? false, request.Echo ?? false, request.Logprobs is not null);
    }

    private static List<string> ToPrompts(JsonElement? prompt)
    {
        switch (prompt?.ValueKind)
        {
            case null or JsonValueKind.Null or JsonValueKind.Undefined:
                throw ApiErrorException.InvalidRequest("Missing required parameter: 'prompt'.", "prompt", "missing_required_parameter");
            case JsonValueKind.String:
                return [NonEmpty(prompt.Value.GetString()!, "prompt")];
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
                return prompts.Count > 0 ? prompts : throw ApiErrorException.InvalidRequest("'prompt' must contain at least one prompt.", "prompt");
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
