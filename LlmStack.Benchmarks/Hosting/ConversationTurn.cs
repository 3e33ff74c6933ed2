using LlmStack.Benchmarks.Load;

namespace LlmStack.Benchmarks.Hosting;

/// <summary>
/// One turn of a conversation as measured: its time to first token, its prompt and cached prompt tokens as the server's
/// usage reported them, and - through a routing API - the part of that time the replica took (from the router sending
/// the call to the replica's first token).
/// </summary>
public sealed record ConversationTurn(double? TimeToFirstTokenMs, int? PromptTokens, int? CachedTokens, double? ReplicaTimeToFirstTokenMs = null)
{
    /// <summary>
    /// The same turn of several conversations as one table cell: the median times to first token, and the prompt and
    /// cached tokens summed (null when any conversation's usage lacks them, so a partial sum never reads as a total).
    /// </summary>
    public static ConversationTurn Summarize(IEnumerable<ConversationTurn> turns)
    {
        var all = turns.ToArray();
        int? Sum(Func<ConversationTurn, int?> count) => all.Any(t => count(t) is null) ? null : all.Sum(t => count(t)!.Value);
        double? Median(Func<ConversationTurn, double?> time) => Percentiles.Median(all.Select(time).OfType<double>());
        return new(Median(t => t.TimeToFirstTokenMs), Sum(t => t.PromptTokens), Sum(t => t.CachedTokens), Median(t => t.ReplicaTimeToFirstTokenMs));
    }

    /// <summary>The share of the turns' prompt tokens the servers found cached (0 to 1); turns without both counts are left out.</summary>
    public static double CachedShare(IEnumerable<ConversationTurn> turns)
    {
        var counted = turns.Where(t => t is { PromptTokens: not null, CachedTokens: not null }).ToArray();
        var prompt = counted.Sum(t => (long)t.PromptTokens!.Value);
        return prompt == 0 ? 0 : (double)counted.Sum(t => (long)t.CachedTokens!.Value) / prompt;
    }
}
