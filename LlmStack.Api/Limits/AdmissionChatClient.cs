using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace LlmStack.Api.Limits;

/// <summary>
/// Holds a model's <see cref="AdmissionGate"/> for the whole call: a non-streamed reply until it returns, a
/// stream until it is disposed (finished, failed or abandoned). A stream that is refused fails at its first
/// update, before anything is sent, so the client gets a real 503.
/// </summary>
internal sealed class AdmissionChatClient(IChatClient inner, AdmissionGate gate) : DelegatingChatClient(inner)
{
    public override async Task<ChatResponse> GetResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        using var admission = await gate.EnterAsync(cancellationToken);
        return await base.GetResponseAsync(messages, options, cancellationToken);
    }

    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var admission = await gate.EnterAsync(cancellationToken);
        await foreach (var update in base.GetStreamingResponseAsync(messages, options, cancellationToken))
        {
            yield return update;
        }
    }
}
