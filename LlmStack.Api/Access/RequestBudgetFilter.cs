using System.Globalization;
using LlmStack.Api.Errors;
using LlmStack.Api.Telemetry;

namespace LlmStack.Api.Access;

/// <summary>
/// Applies the calling key's request and token budgets before the endpoint runs: beyond either, 429
/// <c>rate_limit_exceeded</c> with <c>Retry-After</c>. Every answer carries OpenAI's <c>x-ratelimit-*</c>
/// headers for the budgets the key has; the reply's real token usage is charged when the reply is finished
/// (<see cref="UsageCharge"/>).
/// </summary>
internal sealed class RequestBudgetFilter(ApiKeyDirectory keys, LlmStackMetrics metrics) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext invocation, EndpointFilterDelegate next)
    {
        var context = invocation.HttpContext;
        if (keys.Of(context.User) is not { Budget.IsLimited: true } key)
        {
            return await next(invocation);
        }

        var decision = key.Budget.TryAdmit();
        // At OnStarting: the exception handler clears headers before it writes the 429.
        context.Response.OnStarting(() =>
        {
            WriteHeaders(context.Response.Headers, decision);
            return Task.CompletedTask;
        });
        if (!decision.Admitted)
        {
            metrics.Rejected(RejectionReason.Rate, model: null, key.Name);
            var budget = decision.Exhausted == BudgetKind.Requests ? "requests" : "tokens";
            var state = decision.Exhausted == BudgetKind.Requests ? decision.Requests!.Value : decision.Tokens!.Value;
            throw new ApiErrorException(StatusCodes.Status429TooManyRequests, budget,
                $"Rate limit reached for API key '{key.Name}' on {budget} per minute: limit {state.Limit}. " +
                $"Please try again in {Duration(decision.RetryAfter)}.",
                "rate_limit_exceeded")
            {
                RetryAfter = decision.RetryAfter,
            };
        }
        if (key.Budget.MetersTokens)
        {
            context.Features.Set(new UsageCharge(key.Budget));
        }
        return await next(invocation);
    }

    private static void WriteHeaders(IHeaderDictionary headers, BudgetDecision decision)
    {
        if (decision.Requests is { } requests)
        {
            headers["x-ratelimit-limit-requests"] = requests.Limit.ToString(CultureInfo.InvariantCulture);
            headers["x-ratelimit-remaining-requests"] = requests.Remaining.ToString(CultureInfo.InvariantCulture);
            headers["x-ratelimit-reset-requests"] = Duration(requests.UntilFull);
        }
        if (decision.Tokens is { } tokens)
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
