using System.Runtime.CompilerServices;
using LlmStack.Api.Pipeline;
using Microsoft.Extensions.AI;

namespace LlmStack.Api.Backends.Upstream;

/// <summary>
/// Wraps a chat client that talks to a backend server so that its failures reach the API as
/// <see cref="LlmStack.Api.Errors.ApiErrorException"/>s (see <see cref="UpstreamErrors"/>).
/// </summary>
internal sealed class UpstreamErrorChatClient(IChatClient inner, string model, MissingModel missingModel = MissingModel.NotFound)
    : DelegatingChatClient(inner)
{
    public override async Task<ChatResponse> GetResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        try
        {
            return await base.GetResponseAsync(messages, options, cancellationToken);
        }
        catch (Exception ex) when (UpstreamErrors.Translate(ex, model, cancellationToken, missingModel) is var translated && translated != ex)
        {
            throw translated;
        }
    }

    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var updates = base.GetStreamingResponseAsync(messages, options, cancellationToken)
            .MapErrors(ex => UpstreamErrors.Translate(ex, model, cancellationToken, missingModel));
        await foreach (var update in updates)
        {
            yield return update;
        }

        // OllamaSharp ends its stream quietly when canceled between two lines: that is no finished reply.
        cancellationToken.ThrowIfCancellationRequested();
    }
}
