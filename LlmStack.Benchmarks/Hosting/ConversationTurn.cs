using LlmStack.Benchmarks.Load;

namespace LlmStack.Benchmarks.Hosting;

/// <summary>One turn of a conversation as measured: its time to first token, and its prompt and cached prompt tokens as the server's usage reported them.</summary>
public sealed record ConversationTurn(double? TimeToFirstTokenMs, int? PromptTokens, int? CachedTokens)
{
    /// <summary>
    /// The same turn of several conversations as one table cell: the median time to first token, and the prompt and
    /// cached tokens summed (null when any conversation's usage lacks them, so a partial sum never reads as a total).
    /// </summary>
    public static ConversationTurn Summarize(IEnumerable<ConversationTurn> turns)
    {
        var all = turns.ToArray();
        int? Sum(Func<ConversationTurn, int?> count) => all.Any(t => count(t) is null) ? null : all.Sum(t => count(t)!.Value);
        return new(Percentiles.Median(all.Where(t => t.TimeToFirstTokenMs is not null).Select(t => t.TimeToFirstTokenMs!.Value)), Sum(t => t.PromptTokens), Sum(t => t.CachedTokens));
    }

    /// <summary>The share of the turns' prompt tokens the servers found cached (0 to 1); turns without both counts are left out.</summary>
    public static double CachedShare(IEnumerable<ConversationTurn> turns)
    {
        var counted = turns.Where(t => t is { PromptTokens: not null, CachedTokens: not null }).ToArray();
        var prompt = counted.Sum(t => (long)t.PromptTokens!.Value);
        return prompt == 0 ? 0 : (double)counted.Sum(t => (long)t.CachedTokens!.Value) / prompt;
    }
}
