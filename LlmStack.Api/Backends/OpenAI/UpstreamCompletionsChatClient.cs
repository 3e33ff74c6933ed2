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
/// text chunks, finish reason, usage and (when asked) log probabilities read back. A chat goes on to <c>/chat/completions</c> as before.
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
        var update = ToUpdate(json.RootElement);
        return new ChatResponse(new ChatMessage(ChatRole.Assistant, update.Contents))
        {
            FinishReason = update.FinishReason,
            Usage = update.Contents.OfType<UsageContent>().SingleOrDefault()?.Details,
            ModelId = update.ModelId,
            CreatedAt = update.CreatedAt,
        };
    }

    protected override async IAsyncEnumerable<ChatResponseUpdate> StreamAsync(
        RawPrompt raw, ChatOptions? options, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var response = await SendAsync(raw, options, stream: true, cancellationToken);
        await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
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
            yield return ToUpdate(json.RootElement);
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
            ["prompt"] = raw.Prompt,
            ["stream"] = stream,
        };
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

    // One text_completion object (the whole answer or a chunk): the first choice's text and finish, the usage.
    private static ChatResponseUpdate ToUpdate(JsonElement completion)
    {
        var update = new ChatResponseUpdate { Role = ChatRole.Assistant, RawRepresentation = completion.Clone() };
        if (completion.TryGetProperty("model", out var model) && model.ValueKind == JsonValueKind.String)
        {
            update.ModelId = model.GetString();
        }
        if (completion.TryGetProperty("created", out var created) && created.TryGetInt64(out var seconds))
        {
            update.CreatedAt = DateTimeOffset.FromUnixTimeSeconds(seconds);
        }
        if (completion.TryGetProperty("choices", out var choices) && choices.ValueKind == JsonValueKind.Array && choices.GetArrayLength() > 0)
        {
            var choice = choices[0];
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
        }
        if (completion.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
        {
            update.Contents.Add(new UsageContent(new UsageDetails
            {
                InputTokenCount = Count(usage, "prompt_tokens"),
                OutputTokenCount = Count(usage, "completion_tokens"),
                TotalTokenCount = Count(usage, "total_tokens"),
            }));
        }
        return update;
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
