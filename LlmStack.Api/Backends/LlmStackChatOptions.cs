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
    /// A text completion (<c>/v1/completions</c>): each user message is a prompt, sent to the model as it is - no chat
    /// template, no roles (embedded: tokenized as written; Ollama: raw mode; upstreams: their <c>/completions</c>). A
    /// request of several prompts (OpenAI's array) completes each; a backend that completes one per call has them
    /// split first (<see cref="FanOutChatClient"/>).
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
    /// Sequences asked for: OpenAI's <c>n</c> choices of each prompt (of a text completion's several prompts: prompts
    /// times n, choice <c>prompt * n + i</c> as OpenAI numbers them), 2 to <see cref="MaxChoices"/>; absent means one. A backend that generates
    /// them tags each streamed update with its choice (<see cref="ChoiceKey"/>), ends each choice with an update carrying
    /// its finish reason and then reports the usage of all of them once; its whole reply lists them under
    /// <see cref="ChoicesKey"/> (<see cref="ChoicesOf(ChatResponse)"/>). A backend whose server writes one reply per call
    /// has them split into calls of one (<see cref="FanOutChatClient"/>).
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

    /// <summary>The raw prompts of a text completion (<see cref="RawPromptKey"/>: one per message), or null for a chat.</summary>
    public static RawPrompt? RawPromptOf(IEnumerable<ChatMessage> messages, ChatOptions? options) =>
        options?.AdditionalProperties?.TryGetValue(RawPromptKey, out var raw) == true && raw is true
            ? new RawPrompt(
                [.. messages.Select(m => m.Text)],
                options.AdditionalProperties.TryGetValue(SuffixKey, out var suffix) ? suffix as string : null)
            : null;

    public static void SetLogprobs(ChatOptions options, int top) => (options.AdditionalProperties ??= [])[LogprobsKey] = top;

    /// <summary>How many alternatives per token a request asks with its log probabilities; null when it asks none.</summary>
    public static int? LogprobsOf(ChatOptions? options) =>
        options?.AdditionalProperties?.TryGetValue(LogprobsKey, out var top) == true && top is int count ? count : null;

    /// <summary>Sets the sequences a call generates (<see cref="ChoicesKey"/>); one leaves the key out.</summary>
    public static void SetChoices(ChatOptions options, int n)
    {
        if (n > 1)
        {
            (options.AdditionalProperties ??= [])[ChoicesKey] = n;
        }
        else
        {
            options.AdditionalProperties?.Remove(ChoicesKey);
        }
    }

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
        var responses = Enumerable.Range(0, choices)
            .Select(i => updates.Where(u => ChoiceOf(u) == i && !u.Contents.OfType<UsageContent>().Any()).ToChatResponse())
            .ToList();
        return ToChoicesResponse(responses, SumOf(updates.SelectMany(u => u.Contents).OfType<UsageContent>().Select(u => u.Details)),
            updates.FirstOrDefault()?.ModelId);
    }

    /// <summary>A reply of several choices, each its own response, in order: the first with the usage of all, listing them under <see cref="ChoicesKey"/>.</summary>
    public static ChatResponse ToChoicesResponse(IReadOnlyList<ChatResponse> choices, UsageDetails? usage, string? modelId = null)
    {
        var reply = choices[0];
        return new ChatResponse(reply.Messages)
        {
            ResponseId = reply.ResponseId,
            ModelId = reply.ModelId ?? modelId,
            CreatedAt = reply.CreatedAt,
            FinishReason = reply.FinishReason,
            Usage = usage,
            AdditionalProperties = new() { [ChoicesKey] = choices },
        };
    }

    /// <summary>The sum of <paramref name="parts"/>; null when there are none.</summary>
    public static UsageDetails? SumOf(IEnumerable<UsageDetails?> parts)
    {
        UsageDetails? total = null;
        foreach (var part in parts)
        {
            if (part is not null)
            {
                (total ??= new UsageDetails()).Add(part);
            }
        }
        return total;
    }

    public static void SetUser(ChatOptions options, string user) => (options.AdditionalProperties ??= [])[UserKey] = user;
}

/// <summary>A text completion's prompts, as written, and the text after the completion when there is one (fill-in-the-middle).</summary>
internal sealed record RawPrompt(IReadOnlyList<string> Prompts, string? Suffix)
{
    /// <summary>The prompt of a call of one (what a backend that completes one prompt per call reads).</summary>
    /// <exception cref="InvalidOperationException">The call holds several: it was to be split first (<see cref="FanOutChatClient"/>).</exception>
    public string Prompt => Prompts.Count == 1
        ? Prompts[0]
        : throw new InvalidOperationException($"A text completion of {Prompts.Count} prompts reached a backend that completes one per call; {nameof(FanOutChatClient)} splits them.");
}
