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
}
