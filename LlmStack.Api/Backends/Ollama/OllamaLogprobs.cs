using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.Extensions.AI;
using OllamaSharp.Models;
using OllamaSharp.Models.Chat;

namespace LlmStack.Api.Backends.Ollama;

/// <summary>
/// Ollama's log probabilities (<c>logprobs</c> on a line of <c>/api/generate</c> or <c>/api/chat</c>, since Ollama
/// 0.12.11: each token's <c>token</c>, <c>logprob</c>, <c>bytes</c> and its <c>top_logprobs</c>, most likely first) in
/// OpenAI's terms: Ollama's numbers, as it computes them.
/// </summary>
internal static class OllamaLogprobs
{
    // OpenAI's value for a token too unlikely to have a number; Ollama always sends one.
    private const double Unlikely = -9999.0;

    public static List<TokenLogprob> Read(IEnumerable<Logprob> logprobs) =>
        [.. logprobs.Select(token => new TokenLogprob(
            token.Token ?? "",
            BytesOf(token),
            token.LogProbability ?? Unlikely,
            [.. (token.TopLogprobs ?? []).Select(top => new TopLogprob(top.Token ?? "", BytesOf(top), top.LogProbability ?? Unlikely))]))];

    // A token's bytes are its UTF-8 (a token may be part of a character).
    private static byte[] BytesOf(Logprob token) =>
        token.Bytes is { } bytes ? [.. bytes.Select(b => (byte)b)] : System.Text.Encoding.UTF8.GetBytes(token.Token ?? "");
}

/// <summary>
/// A chat that asks Ollama for log probabilities. OllamaSharp 5.5.2 has them on <c>/api/generate</c> only: its chat
/// request has no <c>logprobs</c>/<c>top_logprobs</c> and its chat lines drop Ollama's <c>logprobs</c>. So the request
/// OllamaSharp writes for this one gets the two fields added (<see cref="AddTo"/>, by <see cref="OllamaServerClient"/>),
/// and each line of the answer, as the client reads it, leaves its log probabilities here (<see cref="Observe"/>), one
/// entry per line - the order in which OllamaSharp turns the lines into updates.
/// </summary>
internal sealed class LogprobsChatRequest(int top, JsonSerializerOptions lineOptions) : ChatRequest
{
    private readonly ConcurrentQueue<List<TokenLogprob>> _lines = new();

    public void AddTo(System.Text.Json.Nodes.JsonObject body)
    {
        body["logprobs"] = true;
        body["top_logprobs"] = top;
    }

    /// <summary>One line of the answer (NDJSON, or the whole body when not streamed): its log probabilities, if any.</summary>
    public void Observe(ReadOnlySpan<byte> line)
    {
        List<TokenLogprob> tokens = [];
        if (!line.Trim(" \t\r"u8).IsEmpty)
        {
            try
            {
                // A chat line's logprobs are a generate line's: OllamaSharp's own model of them reads both.
                if (JsonSerializer.Deserialize<GenerateResponseStream>(line, lineOptions)?.Logprobs is { } logprobs)
                {
                    tokens = OllamaLogprobs.Read(logprobs);
                }
            }
            catch (JsonException)
            {
                // Not a line of Ollama's protocol: OllamaSharp fails the call on it.
            }
        }
        _lines.Enqueue(tokens);
    }

    /// <summary>The log probabilities of the next line read back; empty when it had none.</summary>
    public List<TokenLogprob> Next() => _lines.TryDequeue(out var tokens) ? tokens : [];

    /// <summary>Every line's not yet taken, in order (a whole reply's).</summary>
    public List<TokenLogprob> All()
    {
        var tokens = new List<TokenLogprob>();
        while (_lines.TryDequeue(out var line))
        {
            tokens.AddRange(line);
        }
        return tokens;
    }
}

/// <summary>
/// Log probabilities of a chat on Ollama (<see cref="LlmStackChatOptions.LogprobsKey"/>): the call goes through
/// OllamaSharp with a <see cref="LogprobsChatRequest"/>, and what Ollama sent with each line comes back as
/// <see cref="TokenLogprobsContent"/> on that line's update (streamed) or on the reply's message.
/// </summary>
internal sealed class OllamaChatLogprobsChatClient(IChatClient inner, JsonSerializerOptions lineOptions) : DelegatingChatClient(inner)
{
    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<Microsoft.Extensions.AI.ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        if (Ask(options) is not var (asked, request))
        {
            return await base.GetResponseAsync(messages, options, cancellationToken).ConfigureAwait(false);
        }
        var response = await base.GetResponseAsync(messages, asked, cancellationToken).ConfigureAwait(false);
        if (request.All() is { Count: > 0 } tokens && response.Messages.Count > 0)
        {
            response.Messages[^1].Contents.Add(new TokenLogprobsContent(tokens));
        }
        return response;
    }

    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<Microsoft.Extensions.AI.ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var ask = Ask(options);
        await foreach (var update in base.GetStreamingResponseAsync(messages, ask?.Options ?? options, cancellationToken).ConfigureAwait(false))
        {
            // OllamaSharp makes one update of each line.
            if (ask?.Request.Next() is { Count: > 0 } tokens)
            {
                update.Contents.Add(new TokenLogprobsContent(tokens));
            }
            yield return update;
        }
    }

    private (ChatOptions Options, LogprobsChatRequest Request)? Ask(ChatOptions? options)
    {
        if (LlmStackChatOptions.LogprobsOf(options) is not { } top)
        {
            return null;
        }
        var request = new LogprobsChatRequest(top, lineOptions);
        var asked = options!.Clone();
        // OllamaSharp fills the request it is given (RawRepresentationFactory) from the options, as it would a new one.
        asked.RawRepresentationFactory = _ => request;
        return (asked, request);
    }
}
