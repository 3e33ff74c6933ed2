using System.Net.Http.Json;
using System.Text.Json;

namespace LlmStack.Benchmarks.Load;

/// <summary>
/// Sends streamed chat completions to an OpenAI-compatible server and times the server-sent events as they
/// come off the socket: no SDK in between, whose buffering would blur the first token and the gaps.
/// </summary>
/// <param name="newConnectionPerRequest">
/// Sends <c>Connection: close</c>, so every request opens its own connection: a server's keep-alive policy (llama-server
/// closes idle connections its own way) cannot fail a request sent on a connection it is closing, and every target
/// pays the same connection setup.
/// </param>
public sealed class ChatStreamClient(HttpClient http, bool newConnectionPerRequest = false)
{
    private static ReadOnlySpan<char> DataPrefix => "data:";

    /// <summary>Sends one request; a failure (status, in-band error, broken stream) is a sample with an error, not an exception.</summary>
    /// <param name="reply">Collects the reply's text when given.</param>
    public async Task<RequestSample> SendAsync(BenchChatRequest request, CancellationToken cancellationToken, System.Text.StringBuilder? reply = null)
    {
        var timer = new StreamTimer();
        int? outputTokens = null, promptTokens = null, cachedTokens = null;
        try
        {
            using var message = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
            {
                Content = JsonContent.Create(request, BenchJsonContext.Default.BenchChatRequest),
            };
            message.Headers.ConnectionClose = newConnectionPerRequest;
            using var response = await http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                var body = await response.Content.ReadAsStringAsync(cancellationToken);
                return timer.Finish(null, null, $"HTTP {(int)response.StatusCode}: {Describe(body)}");
            }

            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken));
            while (await reader.ReadLineAsync(cancellationToken) is { } line)
            {
                var data = line.AsSpan();
                if (!data.StartsWith(DataPrefix))
                {
                    continue; // blank separators, comments, event names
                }
                data = data[DataPrefix.Length..].TrimStart();
                if (data.SequenceEqual("[DONE]"))
                {
                    return timer.Finish(outputTokens, promptTokens) with { CachedTokens = cachedTokens };
                }
                var chunk = JsonSerializer.Deserialize(data, BenchJsonContext.Default.BenchChunk);
                if (chunk?.Error is { } error)
                {
                    return timer.Finish(outputTokens, promptTokens, $"stream error: {error.Message ?? error.Code}");
                }
                if (chunk?.Choices is { Count: > 0 } choices && choices[0].Delta?.Content is { Length: > 0 } content)
                {
                    timer.Content();
                    reply?.Append(content);
                }
                if (chunk?.Usage is { } usage)
                {
                    (outputTokens, promptTokens, cachedTokens) = (usage.CompletionTokens, usage.PromptTokens, usage.PromptTokensDetails?.CachedTokens);
                }
            }
            return timer.Finish(outputTokens, promptTokens, "the stream ended without data: [DONE]");
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or JsonException
            || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return timer.Finish(outputTokens, promptTokens, $"{ex.GetType().Name}: {ex.Message}");
        }
    }

    private static string Describe(string body)
    {
        try
        {
            if (JsonSerializer.Deserialize(body, BenchJsonContext.Default.BenchErrorBody)?.Error?.Message is { } message)
            {
                return message;
            }
        }
        catch (JsonException)
        {
            // Not OpenAI's error shape: show the start of the body.
        }
        return body.Length > 200 ? body[..200] : body;
    }
}
