using System.Net;
using System.Text;
using System.Text.Json;

namespace LlmStack.Api.Backends.Upstream;

/// <summary>
/// A backend server answered with an error status. Carries what the client of the API should learn from it:
/// the status, the server's own message and its <c>Retry-After</c>.
/// </summary>
internal sealed class UpstreamHttpException(HttpStatusCode statusCode, string upstreamMessage, TimeSpan? retryAfter)
    : HttpRequestException($"{(int)statusCode} ({statusCode}): {upstreamMessage}", null, statusCode)
{
    // Error bodies are a sentence or a small JSON object; a proxy's HTML page is cut here.
    private const int MaxBodyBytes = 16 * 1024;
    private const int MaxMessageChars = 500;

    /// <summary>The message the backend gave, or the status's reason phrase when it gave none.</summary>
    public string UpstreamMessage { get; } = upstreamMessage;

    public TimeSpan? RetryAfter { get; } = retryAfter;

    public static async Task<UpstreamHttpException> FromResponseAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var body = "";
        try
        {
            await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
            var buffer = new byte[MaxBodyBytes];
            var length = await stream.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken);
            body = Encoding.UTF8.GetString(buffer, 0, length);
        }
        catch (Exception ex) when (ex is IOException or HttpRequestException)
        {
            // The status says enough; a body that breaks off adds nothing.
        }

        var message = MessageFrom(body) ?? response.ReasonPhrase ?? response.StatusCode.ToString();
        return new UpstreamHttpException(response.StatusCode, message, RetryAfterFrom(response));
    }

    /// <summary>
    /// Ollama answers <c>{"error":"..."}</c>, OpenAI-compatible servers <c>{"error":{"message":"..."}}</c>,
    /// FastAPI-based ones <c>{"detail":"..."}</c>; anything else is shown as text.
    /// </summary>
    internal static string? MessageFrom(string body)
    {
        if (string.IsNullOrWhiteSpace(body))
        {
            return null;
        }
        try
        {
            using var json = JsonDocument.Parse(body);
            var root = json.RootElement;
            if (root.ValueKind == JsonValueKind.Object)
            {
                if (root.TryGetProperty("error", out var error))
                {
                    if (error.ValueKind == JsonValueKind.String)
                    {
                        return error.GetString();
                    }
                    if (error.ValueKind == JsonValueKind.Object && error.TryGetProperty("message", out var message) &&
                        message.ValueKind == JsonValueKind.String)
                    {
                        return message.GetString();
                    }
                }
                foreach (var name in (ReadOnlySpan<string>)["message", "detail"])
                {
                    if (root.TryGetProperty(name, out var text) && text.ValueKind == JsonValueKind.String)
                    {
                        return text.GetString();
                    }
                }
            }
        }
        catch (JsonException)
        {
            // Not JSON: the text itself is the message.
        }
        var trimmed = body.Trim();
        return trimmed.Length <= MaxMessageChars ? trimmed : trimmed[..MaxMessageChars] + "...";
    }

    private static TimeSpan? RetryAfterFrom(HttpResponseMessage response) => response.Headers.RetryAfter switch
    {
        { Delta: { } delta } => delta,
        { Date: { } date } => date - DateTimeOffset.UtcNow is var wait && wait > TimeSpan.Zero ? wait : TimeSpan.Zero,
        _ => null,
    };
}
