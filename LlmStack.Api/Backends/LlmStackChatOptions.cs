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

    /// <summary>
    /// Log probabilities asked for (chat's <c>logprobs</c>/<c>top_logprobs</c>, completions' <c>logprobs</c>): the value is
    /// how many of the most likely tokens to list at each position (0 to <see cref="MaxTopLogprobs"/>). The backend
    /// answers with <see cref="TokenLogprobsContent"/>, or refuses with a 400 when it cannot.
    /// </summary>
    public const string LogprobsKey = "llmstack.logprobs";

    /// <summary>OpenAI's ceiling on <c>top_logprobs</c>.</summary>
    public const int MaxTopLogprobs = 20;

    /// <summary>
    /// Choices asked for (OpenAI's <c>n</c>, 2 to <see cref="MaxChoices"/>; absent means one). A backend that generates
    /// them tags each streamed update with its choice (<see cref="ChoiceKey"/>), ends each choice with an update carrying
    /// its finish reason and then reports the usage of all of them once; its whole reply lists them under
    /// <see cref="ChoicesKey"/> (<see cref="ChoicesOf(ChatResponse)"/>). A backend that cannot refuses with a 400.
    /// </summary>
    public const string ChoicesKey = "llmstack.choices";

    /// <summary>On a streamed update of a request with several choices: the index of the choice it belongs to.</summary>
    public const string ChoiceKey = "llmstack.choice";

    /// <summary>The most choices one request may ask for (<c>n</c>); each holds a sequence of the model while it runs.</summary>
    public const int MaxChoices = 8;

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

    public static void SetLogprobs(ChatOptions options, int top) => (options.AdditionalProperties ??= [])[LogprobsKey] = top;

    /// <summary>How many alternatives per token a request asks with its log probabilities; null when it asks none.</summary>
    public static int? LogprobsOf(ChatOptions? options) =>
        options?.AdditionalProperties?.TryGetValue(LogprobsKey, out var top) == true && top is int count ? count : null;

    public static void SetChoices(ChatOptions options, int n) => (options.AdditionalProperties ??= [])[ChoicesKey] = n;

    /// <summary>How many choices a request asks for (1 unless it set <see cref="ChoicesKey"/>).</summary>
    public static int ChoicesOf(ChatOptions? options) =>
        options?.AdditionalProperties?.TryGetValue(ChoicesKey, out var n) == true && n is int count ? count : 1;

    /// <summary>The choice a streamed update belongs to (<see cref="ChoiceKey"/>; 0 when untagged).</summary>
    public static int ChoiceOf(ChatResponseUpdate update) =>
        update.AdditionalProperties?.TryGetValue(ChoiceKey, out var choice) == true && choice is int index ? index : 0;

    public static ChatResponseUpdate SetChoice(ChatResponseUpdate update, int choice)
    {
        (update.AdditionalProperties ??= [])[ChoiceKey] = choice;
        return update;
    }

    /// <summary>
    /// The choices of a whole reply, in order: those it lists under <see cref="ChoicesKey"/>, else the reply itself as
    /// the only one.
    /// </summary>
    public static IReadOnlyList<ChatResponse> ChoicesOf(ChatResponse response) =>
        response.AdditionalProperties?.TryGetValue(ChoicesKey, out var choices) == true && choices is IReadOnlyList<ChatResponse> list ? list : [response];

    /// <summary>
    /// A reply of several choices from its streamed updates (tagged with <see cref="ChoiceKey"/>): each choice's own
    /// response listed under <see cref="ChoicesKey"/>; the reply itself is the first choice with the usage of all.
    /// </summary>
    public static ChatResponse ToChoicesResponse(IReadOnlyList<ChatResponseUpdate> updates, int choices)
    {
        var usage = updates.SelectMany(u => u.Contents).OfType<UsageContent>().ToList();
        var responses = Enumerable.Range(0, choices)
            .Select(i => updates.Where(u => ChoiceOf(u) == i && !u.Contents.OfType<UsageContent>().Any()).ToChatResponse())
            .ToList();
        var reply = responses[0];
        var total = new UsageDetails();
        foreach (var part in usage)
        {
            total.Add(part.Details);
        }
        var first = new ChatResponse(reply.Messages)
        {
            ResponseId = reply.ResponseId,
            ModelId = reply.ModelId ?? updates.FirstOrDefault()?.ModelId,
            CreatedAt = reply.CreatedAt,
            FinishReason = reply.FinishReason,
            Usage = usage.Count > 0 ? total : null,
            AdditionalProperties = new() { [ChoicesKey] = responses },
        };
        return first;
    }

    public static void SetUser(ChatOptions options, string user) => (options.AdditionalProperties ??= [])[UserKey] = user;
}

/// <summary>A text completion's prompt, as written, and the text after the completion when there is one (fill-in-the-middle).</summary>
internal sealed record RawPrompt(string Prompt, string? Suffix);
