using Microsoft.Extensions.AI;

namespace LlmStack.Api.Backends;

/// <summary>
/// A backend that does part of a chat request's work on the request thread before the request is admitted, so that
/// what it refuses never takes a slot or waits in the model's queue (the embedded engine: a structured request's
/// grammar, converted from its schema and parsed by llama.cpp). Found with <c>GetService</c> on the backend's chat
/// client; a backend without it does all its work in the call.
/// </summary>
internal interface IChatPreparation
{
    /// <summary>The options to call the backend with, carrying what was prepared for it.</summary>
    /// <exception cref="Errors.ApiErrorException">The backend refuses the request (a 400).</exception>
    PreparedChat Prepare(ChatOptions options, CancellationToken cancellationToken);
}

/// <summary>
/// A prepared chat request: the <see cref="Options"/> to call with, and what frees the prepared work the call did not
/// take (a refused or failed call, one that fell back to another model); disposed when the call ends.
/// </summary>
internal sealed record PreparedChat(ChatOptions Options, IDisposable? Unused = null) : IDisposable
{
    public void Dispose() => Unused?.Dispose();
}
