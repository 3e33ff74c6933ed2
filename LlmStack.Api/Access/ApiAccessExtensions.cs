using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace LlmStack.Api.Access;

internal static class ApiAccessExtensions
{
    /// <summary>
    /// API keys from <c>LlmStack:Auth</c> (validated at start), bearer authentication, the per-key budgets, and
    /// the start warning of an open API that is reachable beyond this machine.
    /// </summary>
    public static IHostApplicationBuilder AddApiKeys(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptionsWithValidateOnStart<AuthOptions>().BindConfiguration(AuthOptions.SectionName);
        builder.Services.AddSingleton<IValidateOptions<AuthOptions>, AuthOptionsValidator>();
        builder.Services.TryAddSingleton(TimeProvider.System);
        // Budgets shared by every replica through Redis when it is configured, else kept in this process.
        if (builder.Configuration[$"{AuthOptions.SectionName}:{nameof(AuthOptions.Redis)}"] is { Length: > 0 } redis)
        {
            builder.Services.AddSingleton(sp => new RedisBudgetStore(redis, sp.GetRequiredService<ILogger<RedisBudgetStore>>()));
            builder.Services.AddSingleton<IBudgetStore>(sp => sp.GetRequiredService<RedisBudgetStore>());
            builder.Services.AddHealthChecks().AddCheck<RedisBudgetStore>("budgets", tags: [Extensions.ReadyTag]);
        }
        else
        {
            builder.Services.AddSingleton<IBudgetStore, MemoryBudgetStore>();
        }
        builder.Services.AddSingleton<ApiKeyDirectory>();

        builder.Services.AddAuthentication(ApiKeyDefaults.Scheme)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyDefaults.Scheme, configureOptions: null);
        builder.Services.AddAuthorizationBuilder()
            .AddPolicy(ApiKeyDefaults.Policy, policy => policy.AddRequirements(new ApiKeyRequirement()))
            .AddPolicy(ApiKeyDefaults.MetricsPolicy, policy => policy.AddRequirements(new MetricsAccessRequirement()));
        builder.Services.AddSingleton<IAuthorizationHandler, ApiKeyRequirementHandler>();

        builder.Services.AddHostedService<OpenAccessWarning>();
        return builder;
    }

    /// <summary>Authentication and authorization, after routing: the endpoint's policy decides before it runs.</summary>
    public static WebApplication UseApiKeys(this WebApplication app)
    {
        app.UseAuthentication();
        app.UseAuthorization();
        return app;
    }

    /// <summary>
    /// The route group every OpenAI endpoint is mapped into. Keys and per-key budgets are applied here once,
    /// so an endpoint added to the group inherits them and none can be left open by mistake.
    /// </summary>
    public static RouteGroupBuilder MapOpenAIApi(this IEndpointRouteBuilder app) =>
        app.MapGroup("")
            .RequireAuthorization(ApiKeyDefaults.Policy)
            .AddEndpointFilter<RequestBudgetFilter>();
}
