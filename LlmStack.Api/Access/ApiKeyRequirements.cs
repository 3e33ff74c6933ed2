using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Options;

namespace LlmStack.Api.Access;

/// <summary>A valid API key, when keys are configured; anyone, when none are (the API is open).</summary>
internal sealed class ApiKeyRequirement : IAuthorizationRequirement;

/// <summary>As <see cref="ApiKeyRequirement"/>, but only when <c>LlmStack:Auth:ProtectMetrics</c> is on.</summary>
internal sealed class MetricsAccessRequirement : IAuthorizationRequirement;

internal sealed class ApiKeyRequirementHandler(ApiKeyDirectory keys, IOptions<AuthOptions> options) : IAuthorizationHandler
{
    public Task HandleAsync(AuthorizationHandlerContext context)
    {
        foreach (var requirement in context.PendingRequirements.ToList())
        {
            var needsKey = requirement switch
            {
                ApiKeyRequirement => keys.Enabled,
                MetricsAccessRequirement => keys.Enabled && options.Value.ProtectMetrics,
                _ => (bool?)null,
            };
            if (needsKey is false || (needsKey is true && keys.Of(context.User) is not null))
            {
                context.Succeed(requirement);
            }
        }
        return Task.CompletedTask;
    }
}
