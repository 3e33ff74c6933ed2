using System.Runtime.CompilerServices;
using LlmStack.Api.Errors;
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
        var any = false;
        await foreach (var update in updates)
        {
            any = true;
            yield return update;
        }

        // OllamaSharp ends its stream quietly when canceled between two lines: that is no finished reply.
        cancellationToken.ThrowIfCancellationRequested();
        if (!any)
        {
            // A real server sends at least its finish; the OpenAI SDK skips whatever is not an SSE event, so a
            // server answering something else (an HTML page, plain JSON) reads as an empty stream.
            throw ApiErrorException.BackendFailed(model, "its answer held no chat completion chunk (not a chat completion stream).");
        }
    }
}
