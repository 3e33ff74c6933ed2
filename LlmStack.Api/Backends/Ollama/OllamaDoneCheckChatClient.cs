using System.Runtime.CompilerServices;
using LlmStack.Api.Errors;
using Microsoft.Extensions.AI;
using OllamaSharp.Models;
using OllamaSharp.Models.Chat;

namespace LlmStack.Api.Backends.Ollama;

/// <summary>
/// Ollama ends every streamed reply with a <c>"done": true</c> line. A stream that closes without one was cut
/// off (the server stopped or its runner died), and must not reach the client as a complete reply.
/// </summary>
internal sealed class OllamaDoneCheckChatClient(IChatClient inner, string model) : DelegatingChatClient(inner)
{
    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var done = false;
        await foreach (var update in base.GetStreamingResponseAsync(messages, options, cancellationToken))
        {
            done |= update.RawRepresentation is ChatDoneResponseStream or GenerateDoneResponseStream;
            yield return update;
        }
        if (!done && !cancellationToken.IsCancellationRequested)
        {
            throw ApiErrorException.BackendFailed(model, "Ollama closed the stream before the reply was done.");
        }
    }
}
