using System.Net.Http.Headers;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmStack.Api.Errors;
using Microsoft.Extensions.AI;

namespace LlmStack.Api.Backends.OpenAI;

/// <summary>
/// A text completion (<see cref="LlmStackChatOptions.RawPromptKey"/>) at the upstream's own <c>POST /completions</c>
/// (vLLM, llama-server, another LlmStack, OpenAI): the prompt and suffix as written, no chat template; the reply's
/// text chunks, finish reason, usage and (when asked) log probabilities read back. Several prompts go as OpenAI's array
/// and several choices as its <c>n</c>: the upstream's choices, which it numbers <c>prompt * n + i</c> as OpenAI does,
/// are the reply's (<see cref="LlmStackChatOptions.ChoicesKey"/>). A chat goes on to <c>/chat/completions</c> as before.
/// </summary>
/// <remarks>
/// Over the model's own HTTP client (the OpenAI SDK keeps its completions client internal): the same connection
/// policy, and an upstream's error statuses become the same API errors as a chat's (<see cref="Upstream.UpstreamErrorHandler"/>).
/// </remarks>
/// <param name="endpoint">The upstream's OpenAI root, with its <c>/v1</c>.</param>
internal sealed class UpstreamCompletionsChatClient(IChatClient inner, HttpClient http, Uri endpoint, string? apiKey, string backendModel) : RawPromptChatClient(inner)
{
    private readonly Uri _completions = new(endpoint.ToString().TrimEnd('/') + "/completions");

    protected override async Task<ChatResponse> CompleteAsync(RawPrompt raw, ChatOptions? options, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(raw, options, stream: false, cancellationToken);
        using var json = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(cancellationToken), cancellationToken: cancellationToken);
        var sequences = LlmStackChatOptions.ChoicesOf(options);
        var updates = ToUpdates(json.RootElement, sequences);
        var usage = updates.SelectMany(u => u.Contents).OfType<UsageContent>().SingleOrDefault()?.Details;
        var choices = new ChatResponse?[sequences];
        foreach (var update in updates.Where(u => u.FinishReason is not null || u.Contents.Any(c => c is not UsageContent)))
        {
            choices[LlmStackChatOptions.ChoiceOf(update)] = new ChatResponse(new ChatMessage(ChatRole.Assistant, [.. update.Contents.Where(c => c is not UsageContent)]))
            {
                FinishReason = update.FinishReason,
                ModelId = update.ModelId,
                CreatedAt = update.CreatedAt,
            };
        }
        if (sequences == 1)
        {
            var reply = choices[0] ?? new ChatResponse(new ChatMessage(ChatRole.Assistant, []));
            reply.Usage = usage;
            return reply;
        }
        return LlmStackChatOptions.ToChoicesResponse(
            [.. choices.Select((choice, index) => choice ?? throw Missing(index, sequences))], usage);
    }

    private ApiErrorException Missing(int index, int sequences) =>
        ApiErrorException.BackendFailed(backendModel, $"the completion has no choice {index} of the {sequences} it was asked for.");

    protected override async IAsyncEnumerable<ChatResponseUpdate> StreamAsync(
        RawPrompt raw, ChatOptions? options, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var response = await SendAsync(raw, options, stream: true, cancellationToken);
        await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
        var sequences = LlmStackChatOptions.ChoicesOf(options);
        var done = false;
        await foreach (var item in SseParser.Create(body).EnumerateAsync(cancellationToken))
        {
            if (item.Data == "[DONE]")
            {
                done = true;
                break;
            }
            using var json = JsonDocument.Parse(item.Data);
            if (json.RootElement.TryGetProperty("error", out var error))
            {
                throw ApiErrorException.BackendFailed(backendModel, error.TryGetProperty("message", out var message) ? message.GetString() ?? error.GetRawText() : error.GetRawText());
            }
            foreach (var update in ToUpdates(json.RootElement, sequences))
            {
                yield return update;
            }
        }
        if (!done && !cancellationToken.IsCancellationRequested)
        {
            throw ApiErrorException.BackendFailed(backendModel, "the completion stream ended without its [DONE] marker.");
        }
    }

    private async Task<HttpResponseMessage> SendAsync(RawPrompt raw, ChatOptions? options, bool stream, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, _completions)
        {
            Content = new StringContent(Body(raw, options, stream), System.Text.Encoding.UTF8, "application/json"),
        };
        if (!string.IsNullOrWhiteSpace(apiKey))
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        }
        return await http.SendAsync(request, stream ? HttpCompletionOption.ResponseHeadersRead : HttpCompletionOption.ResponseContentRead, cancellationToken);
    }

    private string Body(RawPrompt raw, ChatOptions? options, bool stream)
    {
        var body = new JsonObject
        {
            ["model"] = options?.ModelId ?? backendModel,
            // OpenAI's array only for several: an upstream that reads a string alone still serves one prompt.
            ["prompt"] = raw.Prompts.Count == 1 ? raw.Prompts[0] : new JsonArray([.. raw.Prompts.Select(p => JsonValue.Create(p))]),
            ["stream"] = stream,
        };
        if (LlmStackChatOptions.ChoicesOf(options) / raw.Prompts.Count is > 1 and var n)
        {
            body["n"] = n;
        }
        Add(body, "suffix", raw.Suffix);
        Add(body, "max_tokens", options?.MaxOutputTokens);
        Add(body, "temperature", options?.Temperature);
        Add(body, "top_p", options?.TopP);
        Add(body, "presence_penalty", options?.PresencePenalty);
        Add(body, "frequency_penalty", options?.FrequencyPenalty);
        Add(body, "seed", options?.Seed);
        Add(body, "logprobs", LlmStackChatOptions.LogprobsOf(options));
        Add(body, "user", options?.AdditionalProperties?.TryGetValue(LlmStackChatOptions.UserKey, out var user) == true ? user as string : null);
        if (options?.StopSequences is { Count: > 0 } stops)
        {
            body["stop"] = new JsonArray([.. stops.Select(stop => JsonValue.Create(stop))]);
        }
        if (stream)
        {
            body["stream_options"] = new JsonObject { ["include_usage"] = true };
        }
        return body.ToJsonString();
    }

    private static void Add<T>(JsonObject body, string name, T? value)
    {
        if (value is not null)
        {
            body[name] = JsonValue.Create(value);
        }
    }

    // One text_completion object (the whole answer or a chunk): one update per choice with its text and finish, the
    // usage. A reply of one choice reads its first choice, untagged, the usage on the same update; of several, each
    // choice's update names its index and the usage is an update of its own, as the reply of several choices is written.
    private List<ChatResponseUpdate> ToUpdates(JsonElement completion, int sequences)
    {
        var model = completion.TryGetProperty("model", out var name) && name.ValueKind == JsonValueKind.String ? name.GetString() : null;
        DateTimeOffset? createdAt = completion.TryGetProperty("created", out var created) && created.TryGetInt64(out var seconds)
            ? DateTimeOffset.FromUnixTimeSeconds(seconds)
            : null;
        var raw = completion.Clone();
        ChatResponseUpdate New() => new() { Role = ChatRole.Assistant, RawRepresentation = raw, ModelId = model, CreatedAt = createdAt };

        var updates = new List<ChatResponseUpdate>();
        if (completion.TryGetProperty("choices", out var choices) && choices.ValueKind == JsonValueKind.Array)
        {
            var position = 0;
            foreach (var choice in choices.EnumerateArray().Take(sequences == 1 ? 1 : int.MaxValue))
            {
                var index = choice.TryGetProperty("index", out var given) && given.TryGetInt32(out var number) ? number : position;
                position++;
                if (sequences == 1)
                {
                    index = 0;
                }
                else if (index < 0 || index >= sequences)
                {
                    throw ApiErrorException.BackendFailed(backendModel, $"the completion has a choice {index}; it was asked for {sequences}.");
                }
                var update = New();
                if (choice.TryGetProperty("text", out var text) && text.GetString() is { Length: > 0 } piece)
                {
                    update.Contents.Add(new TextContent(piece));
                }
                if (choice.TryGetProperty("logprobs", out var logprobs) && logprobs.ValueKind == JsonValueKind.Object)
                {
                    update.Contents.Add(new TokenLogprobsContent(ReadLogprobs(logprobs)));
                }
                if (choice.TryGetProperty("finish_reason", out var finish) && finish.ValueKind == JsonValueKind.String)
                {
                    update.FinishReason = new ChatFinishReason(finish.GetString()!);
                }
                updates.Add(sequences == 1 ? update : LlmStackChatOptions.SetChoice(update, index));
            }
        }
        if (completion.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
        {
            var counts = new UsageContent(new UsageDetails
            {
                InputTokenCount = Count(usage, "prompt_tokens"),
                OutputTokenCount = Count(usage, "completion_tokens"),
                TotalTokenCount = Count(usage, "total_tokens"),
            });
            if (sequences == 1 && updates.Count > 0)
            {
                updates[0].Contents.Add(counts);
            }
            else
            {
                var carrier = New();
                carrier.Contents.Add(counts);
                updates.Add(carrier);
            }
        }
        // An object with neither (a keep-alive chunk) still reads as an update, as before.
        if (updates.Count == 0)
        {
            updates.Add(New());
        }
        return updates;
    }

    // Completions' parallel lists (tokens, token_logprobs, top_logprobs as token -> log probability); the alternatives
    // most likely first.
    private static List<TokenLogprob> ReadLogprobs(JsonElement logprobs)
    {
        var tokens = new List<TokenLogprob>();
        if (!logprobs.TryGetProperty("tokens", out var texts) || texts.ValueKind != JsonValueKind.Array
            || !logprobs.TryGetProperty("token_logprobs", out var values) || values.ValueKind != JsonValueKind.Array)
        {
            return tokens;
        }
        var tops = logprobs.TryGetProperty("top_logprobs", out var top) && top.ValueKind == JsonValueKind.Array ? top : default;
        for (var i = 0; i < texts.GetArrayLength() && i < values.GetArrayLength(); i++)
        {
            var token = texts[i].GetString() ?? "";
            var alternatives = tops.ValueKind == JsonValueKind.Array && i < tops.GetArrayLength() && tops[i].ValueKind == JsonValueKind.Object
                ? tops[i].EnumerateObject()
                    .Where(p => p.Value.ValueKind == JsonValueKind.Number)
                    .Select(p => new TopLogprob(p.Name, System.Text.Encoding.UTF8.GetBytes(p.Name), p.Value.GetDouble()))
                    .OrderByDescending(t => t.Logprob)
                    .ToList()
                : [];
            // A null log probability (the first token of an echoed prompt) reads as certain.
            var value = values[i].ValueKind == JsonValueKind.Number ? values[i].GetDouble() : 0;
            tokens.Add(new TokenLogprob(token, System.Text.Encoding.UTF8.GetBytes(token), value, alternatives));
        }
        return tokens;
    }

    private static long? Count(JsonElement usage, string name) =>
        usage.TryGetProperty(name, out var value) && value.TryGetInt64(out var count) ? count : null;
}
