using Microsoft.Extensions.AI;

namespace LlmStack.Api.Backends;

/// <summary>
/// What an OpenAI request asks of a backend beyond <see cref="ChatOptions"/>'s own properties, under the keys of
/// <see cref="ChatOptions.AdditionalProperties"/> (and of a tool's properties) that the endpoints set and the backends
/// read - the one vocabulary they share.
/// </summary>
internal static class LlmStackChatOptions
{
    /// <summary>The key Microsoft.Extensions.AI uses for <c>strict</c> (in ChatOptions and tool properties); the OpenAI backend passes it on.</summary>
    public const string StrictKey = "strictJsonSchema";

    /// <summary>OpenAI's <c>user</c>: the end user a request is made for.</summary>
    public const string UserKey = "user";

    /// <summary>
    /// Where a request carries the schema of its response format (under the request's properties) or of a function's
    /// parameters (under the tool's): <c>response_format.json_schema.schema</c>, <c>tools[0].parameters</c>. A backend
    /// that refuses a place inside the schema names it from there (<see cref="Errors.RequestParam.OfPointer"/>).
    /// </summary>
    public const string SchemaParamKey = "llmstack.schema_param";

    /// <summary>
    /// A text completion (<c>/v1/completions</c>): the one user message is the prompt, sent to the model as it is - no
    /// chat template, no roles (embedded: tokenized as written; Ollama: raw mode; upstreams: their <c>/completions</c>).
    /// </summary>
    public const string RawPromptKey = "llmstack.raw_prompt";

    /// <summary>With <see cref="RawPromptKey"/>: the text after the completion (fill-in-the-middle), when the request has one.</summary>
    public const string SuffixKey = "llmstack.suffix";

    /// <summary>True when <paramref name="properties"/> (a request's or a tool's) ask for strict schema adherence.</summary>
    public static bool IsStrict(IReadOnlyDictionary<string, object?>? properties) =>
        properties is not null && properties.TryGetValue(StrictKey, out var strict) && strict is true;

    public static void SetStrict(ChatOptions options) => (options.AdditionalProperties ??= [])[StrictKey] = true;

    /// <summary>The request field holding the schema, as <see cref="SchemaParamKey"/> says; null when not known.</summary>
    public static string? SchemaParamOf(IReadOnlyDictionary<string, object?>? properties) =>
        properties is not null && properties.TryGetValue(SchemaParamKey, out var param) ? param as string : null;

    public static void SetSchemaParam(ChatOptions options, string param) => (options.AdditionalProperties ??= [])[SchemaParamKey] = param;

    /// <summary>Marks <paramref name="options"/> as a text completion of a raw prompt (<see cref="RawPromptKey"/>).</summary>
    public static void SetRawPrompt(ChatOptions options, string? suffix)
    {
        var properties = options.AdditionalProperties ??= [];
        properties[RawPromptKey] = true;
        if (suffix is not null)
        {
            properties[SuffixKey] = suffix;
        }
    }

    /// <summary>The raw prompt of a text completion (<see cref="RawPromptKey"/>), or null for a chat.</summary>
    public static RawPrompt? RawPromptOf(IEnumerable<ChatMessage> messages, ChatOptions? options) =>
        options?.AdditionalProperties?.TryGetValue(RawPromptKey, out var raw) == true && raw is true
            ? new RawPrompt(
                string.Concat(messages.Select(m => m.Text)),
                options.AdditionalProperties.TryGetValue(SuffixKey, out var suffix) ? suffix as string : null)
            : null;

    public static void SetUser(ChatOptions options, string user) => (options.AdditionalProperties ??= [])[UserKey] = user;
}

/// <summary>A text completion's prompt, as written, and the text after the completion when there is one (fill-in-the-middle).</summary>
internal sealed record RawPrompt(string Prompt, string? Suffix);
