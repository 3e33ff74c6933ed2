using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using OpenAI.Chat;

// The SDK marks its JSON patch (the fields it does not model) as for evaluation; it is its only way to read them.
#pragma warning disable SCME0001

namespace LlmStack.Api.Backends.OpenAI;

/// <summary>
/// Reasoning text from OpenAI-compatible servers: llama.cpp's server, LiteLLM, LocalAI and DeepSeek send
/// <c>reasoning_content</c> (which Microsoft.Extensions.AI reads), vLLM and Ollama's <c>/v1</c> send <c>reasoning</c>
/// (which it does not), beside <c>content</c> in a message or a stream delta. Either becomes
/// <see cref="TextReasoningContent"/>, ahead of the reply's text.
/// </summary>
internal sealed class UpstreamReasoningChatClient(IChatClient inner) : DelegatingChatClient(inner)
{
    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<Microsoft.Extensions.AI.ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var response = await base.GetResponseAsync(messages, options, cancellationToken).ConfigureAwait(false);
        if (response.Messages.Count == 0)
        {
            return response;
        }
        var contents = response.Messages[^1].Contents;
        if (!contents.Any(c => c is TextReasoningContent) && response.RawRepresentation is ChatCompletion completion
            && Read(completion.Patch, "$.choices[0].message.reasoning_content"u8, "$.choices[0].message.reasoning"u8) is { } reasoning)
        {
            contents.Insert(0, new TextReasoningContent(reasoning));
        }
        return response;
    }

    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<Microsoft.Extensions.AI.ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var update in base.GetStreamingResponseAsync(messages, options, cancellationToken).ConfigureAwait(false))
        {
            if (!update.Contents.Any(c => c is TextReasoningContent) && update.RawRepresentation is StreamingChatCompletionUpdate chunk
                && Read(chunk.Patch, "$.choices[0].delta.reasoning_content"u8, "$.choices[0].delta.reasoning"u8) is { } reasoning)
            {
                update.Contents.Insert(0, new TextReasoningContent(reasoning));
            }
            yield return update;
        }
    }

    // The SDK keeps fields it does not model in the model's JSON patch.
    private static string? Read(System.ClientModel.Primitives.JsonPatch patch, ReadOnlySpan<byte> first, ReadOnlySpan<byte> second) =>
        patch.TryGetValue(first, out string? value) && !string.IsNullOrEmpty(value) ? value
        : patch.TryGetValue(second, out value) && !string.IsNullOrEmpty(value) ? value
        : null;
}
