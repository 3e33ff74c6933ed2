using Microsoft.Extensions.AI;

namespace LlmStack.Api.Backends;

/// <summary>One generated token and how likely the model found it: its text, bytes, log probability and the most likely alternatives.</summary>
/// <param name="Top">The most likely tokens at this position, most likely first (as many as the request asked, at most).</param>
internal sealed record TokenLogprob(string Token, byte[] Bytes, double Logprob, IReadOnlyList<TopLogprob> Top);

/// <summary>One of the most likely tokens at a position.</summary>
internal sealed record TopLogprob(string Token, byte[] Bytes, double Logprob);

/// <summary>
/// The log probabilities of the tokens of a reply's text, in order, carried beside its <see cref="TextContent"/> in
/// an update (the tokens of that update's text) or a whole reply (<see cref="LlmStackChatOptions.LogprobsKey"/>).
/// </summary>
internal sealed class TokenLogprobsContent(IReadOnlyList<TokenLogprob> tokens) : AIContent
{
    public IReadOnlyList<TokenLogprob> Tokens { get; } = tokens;

    /// <summary>Every token's log probabilities among <paramref name="contents"/>, in order.</summary>
    public static List<TokenLogprob> In(IEnumerable<AIContent> contents) => [.. contents.OfType<TokenLogprobsContent>().SelectMany(c => c.Tokens)];
}
