using Microsoft.Extensions.AI;

namespace LlmStack.Api.Access;

/// <summary>
/// Set on a request whose key has a token budget: the endpoint's reported usage (through the request log, once,
/// when the reply is finished and before its last bytes go out) is charged to that budget, so a client that has
/// read the end of one reply already sees the budget it left.
/// </summary>
internal sealed class UsageCharge(KeyBudget budget)
{
    private int _charged;

    public void Charge(UsageDetails? usage)
    {
        if (usage is not null && Interlocked.Exchange(ref _charged, 1) == 0)
        {
            budget.Charge(usage.TotalTokenCount ?? (usage.InputTokenCount ?? 0) + (usage.OutputTokenCount ?? 0));
        }
    }
}
