namespace LlmStack.Api.Access;

/// <summary>
/// The request and token budgets of one API key, each refilled continuously at its per-minute rate (so a key
/// that waits a second gets a second's worth back, and a burst never exceeds one minute's allowance). Requests
/// are taken when a request is admitted; tokens are charged with the reply's real usage when it ends, so a
/// large reply may overdraw the token budget and the key waits until it is positive again.
/// </summary>
internal sealed class KeyBudget
{
    private readonly Lock _lock = new();
    private readonly TimeProvider _time;
    private readonly Allowance? _requests;
    private readonly Allowance? _tokens;
    private long _refilledAt;

    public KeyBudget(int? requestsPerMinute, int? tokensPerMinute, TimeProvider time)
    {
        _time = time;
        _requests = requestsPerMinute is { } requests ? new Allowance(requests) : null;
        _tokens = tokensPerMinute is { } tokens ? new Allowance(tokens) : null;
        _refilledAt = time.GetTimestamp();
    }

    public bool IsLimited => _requests is not null || _tokens is not null;

    public bool MetersTokens => _tokens is not null;

    /// <summary>Takes one request from the budget when both budgets allow it; otherwise takes nothing.</summary>
    public BudgetDecision TryAdmit()
    {
        lock (_lock)
        {
            Refill();
            var exhausted = _requests is { Level: < 1 } ? BudgetKind.Requests
                : _tokens is { Level: < 1 } ? BudgetKind.Tokens
                : (BudgetKind?)null;
            if (exhausted is null && _requests is not null)
            {
                _requests.Level -= 1;
            }
            return new BudgetDecision(exhausted, _requests?.Snapshot(), _tokens?.Snapshot());
        }
    }

    /// <summary>Charges the tokens a finished reply used.</summary>
    public void Charge(long tokens)
    {
        if (_tokens is null || tokens <= 0)
        {
            return;
        }
        lock (_lock)
        {
            Refill();
            _tokens.Level -= tokens;
        }
    }

    private void Refill()
    {
        var now = _time.GetTimestamp();
        var elapsed = _time.GetElapsedTime(_refilledAt, now);
        _refilledAt = now;
        _requests?.Refill(elapsed);
        _tokens?.Refill(elapsed);
    }

    private sealed class Allowance(int perMinute)
    {
        private readonly double _perSecond = perMinute / 60.0;

        public double Level { get; set; } = perMinute;

        public void Refill(TimeSpan elapsed) => Level = Math.Min(perMinute, Level + elapsed.TotalSeconds * _perSecond);

        public BudgetState Snapshot() => new(
            perMinute,
            (long)Math.Max(0, Math.Floor(Level)),
            TimeSpan.FromSeconds((perMinute - Level) / _perSecond),
            TimeSpan.FromSeconds(Math.Max(0, 1 - Level) / _perSecond));
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
/// <param name="UntilNext">When one more unit is available (<c>Retry-After</c> of a refusal).</param>
internal readonly record struct BudgetState(int Limit, long Remaining, TimeSpan UntilFull, TimeSpan UntilNext);

/// <summary>The outcome of <see cref="KeyBudget.TryAdmit"/> and the state both budgets are in after it.</summary>
internal readonly record struct BudgetDecision(BudgetKind? Exhausted, BudgetState? Requests, BudgetState? Tokens)
{
    public bool Admitted => Exhausted is null;

    public TimeSpan RetryAfter => Exhausted == BudgetKind.Requests ? Requests!.Value.UntilNext : Tokens!.Value.UntilNext;
}
