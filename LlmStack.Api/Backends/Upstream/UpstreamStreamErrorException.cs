namespace LlmStack.Api.Backends.Upstream;

/// <summary>
/// A backend that had already answered 200 reported an error inside its stream: an OpenAI-compatible server's
/// <c>data: {"error": ...}</c> event (vLLM, llama-server, another LlmStack cut by its drain or time limit), or
/// Ollama's <c>{"error": "..."}</c> line. An <see cref="IOException"/>, as a stream that breaks off is, so that client
/// libraries pass it on from their reads.
/// </summary>
internal sealed class UpstreamStreamErrorException(string upstreamMessage)
    : IOException($"the backend reported an error in its stream: {upstreamMessage}")
{
    /// <summary>The message the backend gave.</summary>
    public string UpstreamMessage { get; } = upstreamMessage;
}
