namespace LlmStack.Api.Endpoints;

internal static class ModelCallExtensions
{
    /// <summary>
    /// The call path every OpenAI endpoint shares (<see cref="ModelCalls"/>) and the record of each request it
    /// makes: the server metrics and the request log line, from one outcome (<see cref="RequestTelemetry"/>).
    /// </summary>
    public static IHostApplicationBuilder AddModelCalls(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<RequestTelemetry>();
        builder.Services.AddSingleton<ModelCalls>();
        return builder;
    }

    /// <summary>
    /// Starts the outcome of every request routed to an endpoint that calls a model (<see cref="ModelOperation"/>), before
    /// the drain, authentication and the key's budget: a refusal of theirs is recorded like every other ending.
    /// </summary>
    public static WebApplication UseModelCallOutcomes(this WebApplication app)
    {
        app.Use((context, next) =>
        {
            if (context.GetEndpoint()?.Metadata.GetMetadata<ModelOperation>() is { } operation)
            {
                context.RequestServices.GetRequiredService<RequestTelemetry>().Start(context, operation.Name);
            }
            return next(context);
        });
        return app;
    }
}
