using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using OpenAI.Chat;

namespace LlmStack.Api.Backends.OpenAI;

/// <summary>
/// Passes an OpenAI-compatible server's tool-call argument fragments on as they arrive. Microsoft.Extensions.AI keeps
/// them until the stream ends and then gives each call whole; this reads each chunk's <c>delta.tool_calls</c> and adds a
/// <see cref="FunctionCallArgumentsContent"/> per fragment, under the call id the whole call will carry.
/// </summary>
internal sealed class UpstreamToolArgumentsChatClient(IChatClient inner) : DelegatingChatClient(inner)
{
    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<Microsoft.Extensions.AI.ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        // The id and name of each call by its index in the stream: servers send them with the first fragment only.
        // A call with a fragment before its id or name is not streamed at all: it goes out whole at the end.
        var calls = new Dictionary<int, (string? Id, string? Name, bool Whole)>();
        await foreach (var update in base.GetStreamingResponseAsync(messages, options, cancellationToken).ConfigureAwait(false))
        {
            if (update.RawRepresentation is StreamingChatCompletionUpdate { ToolCallUpdates.Count: > 0 } chunk)
            {
                foreach (var call in chunk.ToolCallUpdates)
                {
                    var (id, name, whole) = calls.GetValueOrDefault(call.Index);
                    id ??= call.ToolCallId;
                    name ??= call.FunctionName;
                    var fragment = call.FunctionArgumentsUpdate?.ToString();
                    if (!string.IsNullOrEmpty(fragment) && !whole)
                    {
                        if (id is null || name is null)
                        {
                            whole = true;
                        }
                        else
                        {
                            update.Contents.Add(new FunctionCallArgumentsContent(id, name, fragment));
                        }
                    }
                    calls[call.Index] = (id, name, whole);
                }
            }
            yield return update;
        }
    }
}
