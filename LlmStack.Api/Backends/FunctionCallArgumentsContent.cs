using Microsoft.Extensions.AI;

namespace LlmStack.Api.Backends;

/// <summary>
/// A fragment of a tool call's arguments as the model writes them, in a streamed update, before the call is whole:
/// the fragments of one call (<see cref="CallId"/>) concatenate to its arguments' JSON text. The backend still ends
/// the call with its <see cref="FunctionCallContent"/> (same call id), which a stream that sent the fragments does not
/// send again.
/// </summary>
internal sealed class FunctionCallArgumentsContent(string callId, string name, string fragment) : AIContent
{
    public string CallId { get; } = callId;

    public string Name { get; } = name;

    public string Fragment { get; } = fragment;
}
