namespace LlmStack.Api.Access;

/// <summary>
/// The budget rule of one API key, written once over the store's one primitive (<see cref="IBudgetStore"/>): a request
/// budget and a token budget, each refilled continuously at its per-minute rate (a key that waits a second gets a
/// second's worth back; a burst never exceeds one minute's allowance).
/// <list type="bullet">
/// <item>A request is admitted when the key has a request left and its token budget is not overdrawn; it takes one request.</item>
/// <item>Before its model is called, a request reserves what it may use - its prompt plus its output limit - and is
/// admitted only when the token budget holds all of it (a request larger than the whole budget waits for a full one),
/// so concurrent requests cannot spend the same tokens.</item>
/// <item>When the request ends, however it ended, the reservation is settled: the tokens it used are charged instead
/// (<see cref="UsageCharge"/>). A reply that outgrows its reservation overdraws the budget, and the key waits.</item>
/// </list>
/// </summary>
internal sealed class KeyBudget
{
    private readonly IBudgetStore _store;
    private readonly string _requestsBucket;
    private readonly string _tokensBucket;

    public KeyBudget(string keyName, int? requestsPerMinute, int? tokensPerMinute, IBudgetStore store)
    {
        _store = store;
        RequestsPerMinute = requestsPerMinute;
        TokensPerMinute = tokensPerMinute;
        _requestsBucket = $"{keyName}:requests";
        _tokensBucket = $"{keyName}:tokens";
    }

    public int? RequestsPerMinute { get; }

    public int? TokensPerMinute { get; }

    public bool IsLimited => RequestsPerMinute is not null || TokensPerMinute is not null;

    public bool MetersTokens => TokensPerMinute is not null;

    /// <summary>Takes one request when the key has one left and its token budget is not overdrawn; otherwise takes nothing.</summary>
    public async ValueTask<BudgetDecision> AdmitAsync(CancellationToken cancellationToken)
    {
        var takes = new List<BucketTake>(2);
        if (RequestsPerMinute is { } requests)
        {
            takes.Add(new BucketTake(_requestsBucket, requests, Need: 1, Cost: 1));
        }
        if (TokensPerMinute is { } tokens)
        {
            takes.Add(new BucketTake(_tokensBucket, tokens, Need: 1, Cost: 0));
        }
        var levels = await _store.TakeAsync(takes, cancellationToken);
        BudgetState? requestState = null, tokenState = null;
        BudgetKind? exhausted = null;
        for (var i = 0; i < takes.Count; i++)
        {
            var state = BudgetState.Of(takes[i], levels.Levels[i]);
            var kind = takes[i].Bucket == _requestsBucket ? BudgetKind.Requests : BudgetKind.Tokens;
            if (!levels.Taken && exhausted is null && levels.Levels[i] < takes[i].Need)
            {
                exhausted = kind;
            }
            if (kind == BudgetKind.Requests)
            {
                requestState = state;
            }
            else
            {
                tokenState = state;
            }
        }
        return new BudgetDecision(levels.Taken ? null : exhausted ?? BudgetKind.Requests, requestState, tokenState);
    }

    /// <summary>
    /// Reserves <paramref name="tokens"/> (at most the whole budget) when the token budget holds them; otherwise reserves
    /// nothing. Only for a key with a token budget.
    /// </summary>
    /// <returns>The decision and the tokens reserved.</returns>
    public async ValueTask<(BudgetDecision Decision, long Reserved)> ReserveAsync(long tokens, CancellationToken cancellationToken)
    {
        var limit = TokensPerMinute ?? throw new InvalidOperationException("The key has no token budget.");
        var reserved = Math.Clamp(tokens, 0, limit);
        var take = new BucketTake(_tokensBucket, limit, Need: reserved, Cost: reserved);
        var levels = await _store.TakeAsync([take], cancellationToken);
        var state = BudgetState.Of(take, levels.Levels[0]);
        return (new BudgetDecision(levels.Taken ? null : BudgetKind.Tokens, null, state), levels.Taken ? reserved : 0);
    }

    /// <summary>Settles a reservation: gives back <paramref name="reserved"/> and charges <paramref name="used"/>, whatever the level.</summary>
    public async ValueTask<BudgetState> SettleAsync(long reserved, long used, CancellationToken cancellationToken)
    {
        var limit = TokensPerMinute ?? throw new InvalidOperationException("The key has no token budget.");
        var take = new BucketTake(_tokensBucket, limit, BucketTake.Unconditional, Cost: used - reserved);
        var levels = await _store.TakeAsync([take], cancellationToken);
        return BudgetState.Of(take with { Need = 1 }, levels.Levels[0]);
    }
}

internal enum BudgetKind
{
    Requests,
    Tokens,
}

/// <param name="Limit">The per-minute allowance.</param>
/// <param name="Remaining">What can be used now.</param>
/// <param name="UntilFull">When the budget is whole again (OpenAI's <c>x-ratelimit-reset-*</c>).</param>
/// <param name="UntilNext">When the budget holds what was asked of it (<c>Retry-After</c> of a refusal).</param>
/// <param name="Needed">What was asked of it (one request; a request's reserved tokens).</param>
internal readonly record struct BudgetState(int Limit, long Remaining, TimeSpan UntilFull, TimeSpan UntilNext, long Needed)
{
    public static BudgetState Of(BucketTake take, double level)
    {
        var perSecond = take.PerMinute / 60.0;
        return new BudgetState(
            take.PerMinute,
            (long)Math.Max(0, Math.Floor(level)),
            TimeSpan.FromSeconds(Math.Max(0, take.PerMinute - level) / perSecond),
            TimeSpan.FromSeconds(Math.Max(0, take.Need - level) / perSecond),
            (long)Math.Ceiling(take.Need));
    }
}

/// <summary>The outcome of a budget's take and the state the key's budgets are in after it.</summary>
internal readonly record struct BudgetDecision(BudgetKind? Exhausted, BudgetState? Requests, BudgetState? Tokens)
{
    public bool Admitted => Exhausted is null;

    public TimeSpan RetryAfter => Exhausted == BudgetKind.Requests ? Requests!.Value.UntilNext : Tokens!.Value.UntilNext;
}
