using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.Extensions.AI;
using OpenAI.Chat;

namespace LlmStack.Api.Backends.OpenAI;

/// <summary>
/// Log probabilities from an OpenAI-compatible upstream: a request that asks for them
/// (<see cref="LlmStackChatOptions.LogprobsKey"/>) is sent with <c>logprobs</c> and <c>top_logprobs</c>, and the
/// <c>choices[0].logprobs.content</c> of the reply (or of each chunk) comes back as <see cref="TokenLogprobsContent"/>.
/// They are the upstream's numbers, as it computes them.
/// </summary>
internal sealed class UpstreamLogprobsChatClient(IChatClient inner) : DelegatingChatClient(inner)
{
    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<Microsoft.Extensions.AI.ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var response = await base.GetResponseAsync(messages, Ask(options), cancellationToken).ConfigureAwait(false);
        if (LlmStackChatOptions.LogprobsOf(options) is not null && response.RawRepresentation is ChatCompletion completion && response.Messages.Count > 0)
        {
            response.Messages[^1].Contents.Add(new TokenLogprobsContent(Read(completion.ContentTokenLogProbabilities)));
        }
        return response;
    }

    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<Microsoft.Extensions.AI.ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var asked = LlmStackChatOptions.LogprobsOf(options) is not null;
        await foreach (var update in base.GetStreamingResponseAsync(messages, Ask(options), cancellationToken).ConfigureAwait(false))
        {
            if (asked && update.RawRepresentation is StreamingChatCompletionUpdate { ContentTokenLogProbabilities.Count: > 0 } chunk)
            {
                update.Contents.Add(new TokenLogprobsContent(Read(chunk.ContentTokenLogProbabilities)));
            }
            yield return update;
        }
    }

    // On top of whatever raw options the layers above asked for (a response format passed through).
    private static ChatOptions? Ask(ChatOptions? options)
    {
        if (LlmStackChatOptions.LogprobsOf(options) is not { } top)
        {
            return options;
        }
        var asked = options!.Clone();
        var previous = asked.RawRepresentationFactory;
        asked.RawRepresentationFactory = client =>
        {
            var raw = previous?.Invoke(client) as ChatCompletionOptions ?? new ChatCompletionOptions();
            raw.IncludeLogProbabilities = true;
            raw.TopLogProbabilityCount = top;
            return raw;
        };
        return asked;
    }

    private static List<TokenLogprob> Read(IReadOnlyList<ChatTokenLogProbabilityDetails> tokens) =>
        [.. tokens.Select(token => new TokenLogprob(
            token.Token,
            token.Utf8Bytes?.ToArray() ?? Encoding.UTF8.GetBytes(token.Token),
            token.LogProbability,
            [.. token.TopLogProbabilities.Select(top => new TopLogprob(top.Token, top.Utf8Bytes?.ToArray() ?? Encoding.UTF8.GetBytes(top.Token), top.LogProbability))]))];
}
