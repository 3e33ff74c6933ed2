using LlmStack.Api.Telemetry;

namespace LlmStack.Api.Access;

/// <summary>
/// Applies the calling key's limits before the endpoint runs: a place among its requests in flight (held until the
/// request has ended), a request taken from its request budget, or 429 <c>rate_limit_exceeded</c> with
/// <c>Retry-After</c> when the key is at its limit or a budget is spent. Every answer carries OpenAI's
/// <c>x-ratelimit-*</c> headers for the budgets the key has, as they stand when the answer starts; the request's tokens
/// are reserved and settled through its <see cref="UsageCharge"/>.
/// </summary>
internal sealed class RequestBudgetFilter(ApiKeyDirectory keys, LlmStackMetrics metrics) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext invocation, EndpointFilterDelegate next)
    {
        var context = invocation.HttpContext;
        if (keys.Of(context.User) is not { } key)
        {
            return await next(invocation);
        }
        if (key.Concurrency.IsLimited)
        {
            if (key.Concurrency.TryEnter() is not { } place)
            {
                metrics.Rejected(RejectionReason.Rate, model: null, key.Name);
                throw key.Concurrency.Refusal(key.Name);
            }
            // Released when the whole response is done: the endpoint's result (a stream) runs after this filter returns.
            context.Response.RegisterForDispose(place);
        }
        if (!key.Budget.IsLimited)
        {
            return await next(invocation);
        }

        var charge = new UsageCharge(key, metrics);
        // At OnStarting: the exception handler clears headers before it writes the 429.
        context.Response.OnStarting(() =>
        {
            charge.WriteHeaders(context.Response.Headers);
            return Task.CompletedTask;
        });
        await charge.AdmitAsync(context.RequestAborted);
        context.Features.Set(charge);
        return await next(invocation);
    }
}
