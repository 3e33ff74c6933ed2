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
        await using var updates = base.GetStreamingResponseAsync(messages, options, cancellationToken)
            .GetAsyncEnumerator(cancellationToken);
        var any = false;
        while (true)
        {
            try
            {
                if (!await updates.MoveNextAsync())
                {
                    break;
                }
            }
            catch (Exception ex) when (UpstreamErrors.Translate(ex, model, cancellationToken, missingModel) is var translated && translated != ex)
            {
                throw translated;
            }
            any = true;
            yield return updates.Current;
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

/// <summary>
/// The embedding counterpart of <see cref="UpstreamErrorChatClient"/>. Embeddings do not pass through the chat
/// pipeline, so the first-token timeout bounds the whole call here.
/// </summary>
internal sealed class UpstreamErrorEmbeddingGenerator(
    IEmbeddingGenerator<string, Embedding<float>> inner, string model, TimeSpan timeout, MissingModel missingModel = MissingModel.NotFound)
    : DelegatingEmbeddingGenerator<string, Embedding<float>>(inner)
{
    public override async Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(
        IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            return await base.GenerateAsync(values, options, deadline.Token);
        }
        catch (OperationCanceledException ex) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw FirstTokenTimeoutChatClient.TimedOut(model, timeout, ex);
        }
        catch (Exception ex) when (UpstreamErrors.Translate(ex, model, deadline.Token, missingModel) is var translated && translated != ex)
        {
            if (translated is OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                throw FirstTokenTimeoutChatClient.TimedOut(model, timeout, ex);
            }
            throw translated;
        }
    }
}
