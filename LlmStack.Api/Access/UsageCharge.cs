using System.Globalization;
using LlmStack.Api.Errors;
using LlmStack.Api.Telemetry;

namespace LlmStack.Api.Access;

/// <summary>
/// One request's account with its key's budgets (set by <see cref="RequestBudgetFilter"/> on a request whose key has
/// any): the request taken at admission, the tokens reserved before its model is called, the settlement when it
/// ends - once, however it ended - and the budgets' latest state for the <c>x-ratelimit-*</c> headers.
/// </summary>
internal sealed class UsageCharge(ApiKey key, LlmStackMetrics metrics)
{
    private long _reserved;
    private int _settled;

    public BudgetState? Requests { get; private set; }

    public BudgetState? Tokens { get; private set; }

    /// <summary>Takes the request from the key's budgets; 429 <c>rate_limit_exceeded</c> when one is spent.</summary>
    public async ValueTask AdmitAsync(CancellationToken cancellationToken)
    {
        var decision = await Decide(() => key.Budget.AdmitAsync(cancellationToken));
        (Requests, Tokens) = (decision.Requests, decision.Tokens);
        if (!decision.Admitted)
        {
            throw Refusal(decision, why: null);
        }
    }

    /// <summary>
    /// Reserves the request's tokens before its model is called: its prompt and its output limit. 429
    /// <c>rate_limit_exceeded</c> when the key's token budget does not hold them; nothing to do without a token budget.
    /// </summary>
    public async ValueTask ReserveAsync(long promptTokens, long outputTokens, CancellationToken cancellationToken)
    {
        if (!key.Budget.MetersTokens || Volatile.Read(ref _settled) != 0)
        {
            return;
        }
        var (decision, reserved) = await Decide(() => key.Budget.ReserveAsync(promptTokens + outputTokens, cancellationToken));
        Tokens = decision.Tokens;
        if (!decision.Admitted)
        {
            throw Refusal(decision, $"this request reserves {decision.Tokens!.Value.Needed} (its prompt, about {promptTokens}, and {outputTokens} output tokens), ");
        }
        _reserved = reserved;
    }

    /// <summary>Gives back the reservation and charges the tokens the request used; once.</summary>
    public async ValueTask SettleAsync(long usedTokens)
    {
        if (!key.Budget.MetersTokens || Interlocked.Exchange(ref _settled, 1) != 0)
        {
            return;
        }
        try
        {
            // Not the request's token: a client that has gone still pays for what was generated for it.
            Tokens = await key.Budget.SettleAsync(_reserved, usedTokens, CancellationToken.None);
        }
        catch (BudgetStoreUnavailableException)
        {
            // The reply is already made and the store has logged why; the next request of the key is refused until it answers.
        }
    }

    private static async ValueTask<T> Decide<T>(Func<ValueTask<T>> decide)
    {
        try
        {
            return await decide();
        }
        catch (BudgetStoreUnavailableException ex)
        {
            throw BudgetsUnavailable(ex);
        }
    }

    /// <summary>The budgets cannot be decided: the request is refused (fail closed), with what is wrong.</summary>
    internal static ApiErrorException BudgetsUnavailable(BudgetStoreUnavailableException ex) =>
        new(StatusCodes.Status503ServiceUnavailable, "server_error",
            $"The API keys' budgets cannot be checked, so requests of keys with a budget are refused: {ex.Message}",
            "budget_store_unavailable", innerException: ex)
        {
            RetryAfter = TimeSpan.FromSeconds(5),
        };

    private ApiErrorException Refusal(BudgetDecision decision, string? why)
    {
        metrics.Rejected(RejectionReason.Rate, model: null, key.Name);
        var budget = decision.Exhausted == BudgetKind.Requests ? "requests" : "tokens";
        var state = decision.Exhausted == BudgetKind.Requests ? decision.Requests!.Value : decision.Tokens!.Value;
        return new ApiErrorException(StatusCodes.Status429TooManyRequests, budget,
            $"Rate limit reached for API key '{key.Name}' on {budget} per minute: limit {state.Limit}, {why}{state.Remaining} left. " +
            $"Please try again in {Duration(decision.RetryAfter)}.",
            "rate_limit_exceeded")
        {
            RetryAfter = decision.RetryAfter,
        };
    }

    /// <summary>OpenAI's <c>x-ratelimit-*</c> headers for the budgets the key has, as they stand.</summary>
    public void WriteHeaders(IHeaderDictionary headers)
    {
        if (Requests is { } requests)
        {
            headers["x-ratelimit-limit-requests"] = requests.Limit.ToString(CultureInfo.InvariantCulture);
            headers["x-ratelimit-remaining-requests"] = requests.Remaining.ToString(CultureInfo.InvariantCulture);
            headers["x-ratelimit-reset-requests"] = Duration(requests.UntilFull);
        }
        if (Tokens is { } tokens)
        {
            headers["x-ratelimit-limit-tokens"] = tokens.Limit.ToString(CultureInfo.InvariantCulture);
            headers["x-ratelimit-remaining-tokens"] = tokens.Remaining.ToString(CultureInfo.InvariantCulture);
            headers["x-ratelimit-reset-tokens"] = Duration(tokens.UntilFull);
        }
    }

    /// <summary>OpenAI's duration format in these headers: <c>20ms</c>, <c>1.5s</c>, <c>6m0s</c>.</summary>
    internal static string Duration(TimeSpan duration) => duration switch
    {
        { TotalMilliseconds: < 1000 } => $"{Math.Ceiling(Math.Max(0, duration.TotalMilliseconds)).ToString(CultureInfo.InvariantCulture)}ms",
        { TotalSeconds: < 60 } => $"{Math.Round(duration.TotalSeconds, 3).ToString(CultureInfo.InvariantCulture)}s",
        _ => $"{(int)duration.TotalMinutes}m{Math.Round(duration.TotalSeconds % 60, 3).ToString(CultureInfo.InvariantCulture)}s",
    };
}
