using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace LlmStack.Benchmarks.Soak;

/// <summary>
/// The requests of the soak, each with the answers it is owed: a stream, a reply, a client that hangs up
/// mid-stream, a bad body, a wrong key, a burst beyond a key's request budget, embeddings. An answer outside
/// those (a 5xx other than "overloaded", a refusal outside OpenAI's envelope, a stream that did not run to its end, see <see cref="StreamEnd"/>) is counted
/// as unexpected.
/// </summary>
public sealed class SoakClient(HttpClient http, string model, string key, string limitedKey, SoakTally tally)
{
    private static readonly (string Kind, int Weight)[] Mix =
        [("stream", 30), ("reply", 20), ("cancel", 15), ("bad-body", 15), ("burst", 10), ("embeddings", 5), ("wrong-key", 5)];

    public async Task RunOneAsync(Random random, RequestFuzzer fuzzer, CancellationToken cancellationToken)
    {
        var pick = random.Next(Mix.Sum(m => m.Weight));
        var kind = Mix.First(m => (pick -= m.Weight) < 0).Kind;
        switch (kind)
        {
            case "stream":
                await SendAsync(kind, "/v1/chat/completions", Chat(stream: true, 8 + random.Next(56)), key, cancellationToken);
                break;
            case "reply":
                await SendAsync(kind, "/v1/chat/completions", Chat(stream: false, 8 + random.Next(56)), key, cancellationToken);
                break;
            case "cancel":
                await SendAsync(kind, "/v1/chat/completions", Chat(stream: true, 4096), key, cancellationToken, hangUpAfterEvents: 1 + random.Next(5));
                break;
            case "bad-body":
                var request = fuzzer.Next();
                await SendAsync(kind, request.Path, request.Body, key, cancellationToken);
                break;
            case "burst":
                await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => SendAsync(kind, "/v1/chat/completions", Chat(stream: false, 4), limitedKey, cancellationToken)));
                break;
            case "embeddings":
                await SendAsync(kind, "/v1/embeddings", Encoding.UTF8.GetBytes($$"""{"model":"{{model}}","input":["soak","test"]}"""), key, cancellationToken);
                break;
            default:
                await SendAsync(kind, "/v1/chat/completions", Chat(stream: false, 4), "sk-wrong-key-0123456789", cancellationToken);
                break;
        }
    }

    public byte[] Chat(bool stream, int maxTokens) => Encoding.UTF8.GetBytes(
        $$"""{"model":"{{model}}","stream":{{(stream ? "true" : "false")}},"max_tokens":{{maxTokens}},"messages":[{"role":"user","content":"Tell me about soak tests."}]}""");

    /// <summary>Sends one request, reads its answer and counts it; returns the outcome.</summary>
    public Task<string> SendAsync(string kind, string path, byte[] body, string bearer, CancellationToken cancellationToken, int? hangUpAfterEvents = null) =>
        CountAsync(tally, kind, () => ExchangeAsync(path, body, bearer, hangUpAfterEvents, cancellationToken), cancellationToken);

    /// <summary>Runs one exchange and counts its outcome and latency (a transport failure is an outcome too); returns the outcome.</summary>
    internal static async Task<string> CountAsync(SoakTally tally, string kind, Func<Task<string>> exchange, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        string outcome;
        try
        {
            outcome = await exchange();
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return "stopped";
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or OperationCanceledException)
        {
            outcome = "transport error";
        }
        tally.Add(kind, outcome, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        return outcome;
    }

    private async Task<string> ExchangeAsync(string path, byte[] body, string bearer, int? hangUpAfterEvents, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        if (response.Content.Headers.ContentType?.MediaType == "text/event-stream")
        {
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken));
            var events = 0;
            string? lastEvent = null, lastData = null;
            while (await reader.ReadLineAsync(cancellationToken) is { } line)
            {
                if (line.StartsWith("event: ", StringComparison.Ordinal))
                {
                    lastEvent = line;
                }
                else if (line.StartsWith("data: ", StringComparison.Ordinal))
                {
                    lastData = line;
                    if (++events == hangUpAfterEvents)
                    {
                        // Disposing the response closes the connection: the server must cancel the generation.
                        return "cancelled";
                    }
                }
            }
            return StreamEnd.Completed(path, lastEvent, lastData) ? "200" : "stream cut";
        }
        return await OutcomeOfAsync(response, cancellationToken);
    }

    /// <summary>The outcome of an answer that is not a stream: its status, or the refusal's status and code (checked against OpenAI's envelope).</summary>
    internal static async Task<string> OutcomeOfAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var status = (int)response.StatusCode;
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        if (status < 400)
        {
            return status.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        string? code;
        try
        {
            using var json = JsonDocument.Parse(text);
            var error = json.RootElement.GetProperty("error");
            _ = error.GetProperty("message").GetString() ?? throw new JsonException();
            code = error.GetProperty("code").GetString();
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return "bad envelope";
        }
        return status switch
        {
            >= 500 when status == (int)HttpStatusCode.ServiceUnavailable && code == "model_overloaded" => "503 overloaded",
            >= 500 => "5xx",
            429 when response.Headers.RetryAfter is null => "bad envelope",
            _ => $"{status} {code}",
        };
    }
}
