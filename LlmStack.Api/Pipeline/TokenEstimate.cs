using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;

namespace LlmStack.Api.Pipeline;

/// <summary>
/// A request's prompt tokens before a backend has counted them: what its key reserves, and what it is charged and
/// logged when it ends before the backend reported its usage (a client gone, a cutoff). One token per
/// <see cref="BytesPerToken"/> bytes of UTF-8 text (rounded up), plus <see cref="TokensPerMessage"/> for each message's
/// template markers - about what BPE tokenizers give English text and code. Images are not counted.
/// </summary>
internal static class TokenEstimate
{
    public const int BytesPerToken = 4;

    public const int TokensPerMessage = 4;

    public static long Of(IEnumerable<ChatMessage> messages)
    {
        long tokens = 0;
        foreach (var message in messages)
        {
            long bytes = 0;
            foreach (var content in message.Contents)
            {
                bytes += content switch
                {
                    TextContent text => Encoding.UTF8.GetByteCount(text.Text),
                    TextReasoningContent reasoning => Encoding.UTF8.GetByteCount(reasoning.Text),
                    FunctionCallContent call => Encoding.UTF8.GetByteCount(call.Name) + (call.Arguments is { } arguments
                        ? JsonSerializer.SerializeToUtf8Bytes(arguments, AIJsonUtilities.DefaultOptions).Length
                        : 0),
                    FunctionResultContent result => Encoding.UTF8.GetByteCount(result.Result?.ToString() ?? ""),
                    _ => 0,
                };
            }
            tokens += TokensPerMessage + ((bytes + BytesPerToken - 1) / BytesPerToken);
        }
        return tokens;
    }

    /// <summary>Embedding inputs: their text alone.</summary>
    public static long Of(IEnumerable<string> inputs) =>
        inputs.Sum(input => ((long)Encoding.UTF8.GetByteCount(input) + BytesPerToken - 1) / BytesPerToken);
}
