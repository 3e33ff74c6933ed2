using System.ClientModel;
using System.ClientModel.Primitives;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using OpenAI;

namespace LlmStack.Web.Api;

public static class LlmStackApiExtensions
{
    private const string ChatHttpClientName = "llmstack-chat";

    /// <summary>How long a status probe may take before the banner says the API is not answering.</summary>
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Registers the UI's two ways to the LlmStack API, both addressed as <c>http://api</c> and resolved by
    /// service discovery from <c>services:api:http:0</c> (validated at start):
    /// an <see cref="IChatClient"/> over the OpenAI SDK for chat (the API's public OpenAI-compatible surface, as
    /// any client would use it), and <see cref="LlmStackApiClient"/> for <c>/v1/models</c> and <c>/readyz</c>.
    /// </summary>
    public static IHostApplicationBuilder AddLlmStackApi(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptionsWithValidateOnStart<LlmStackApiEndpoint>()
            .Configure<IConfiguration>((endpoint, configuration) =>
            {
                endpoint.Address = Uri.TryCreate(configuration[LlmStackApiEndpoint.ConfigurationKey], UriKind.Absolute, out var address)
                    ? address
                    : null;
                endpoint.ApiKey = configuration[LlmStackApiEndpoint.ApiKeyConfigurationKey] is { Length: > 0 } key ? key : null;
            });
        builder.Services.AddSingleton<IValidateOptions<LlmStackApiEndpoint>, LlmStackApiEndpointValidator>();
        builder.Services.AddSingleton(sp => sp.GetRequiredService<IOptions<LlmStackApiEndpoint>>().Value);
        builder.Services.Configure<ModelDownloadOptions>(builder.Configuration.GetSection(ModelDownloadOptions.SectionName));

        // No resilience handler: a probe that retries for half a minute would hide an API that is down; the next poll is the retry.
        builder.Services.AddHttpClient<LlmStackApiClient>((services, http) =>
        {
            http.BaseAddress = LlmStackApiEndpoint.ServiceAddress;
            http.Timeout = ProbeTimeout;
            if (services.GetRequiredService<LlmStackApiEndpoint>().ApiKey is { } key)
            {
                http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
            }
        });

        // LLM-sized timeouts (minutes), and a POST is never retried.
        builder.Services.AddHttpClient(ChatHttpClientName, http => http.BaseAddress = LlmStackApiEndpoint.ServiceAddress)
            .AddLlmResilienceHandler();

        builder.Services.AddChatClient(CreateOpenAIChatClient)
            .UseOpenTelemetry();
        return builder;
    }

    private static IChatClient CreateOpenAIChatClient(IServiceProvider services)
    {
        var http = services.GetRequiredService<IHttpClientFactory>().CreateClient(ChatHttpClientName);
        var options = new OpenAIClientOptions
        {
            Endpoint = new Uri(LlmStackApiEndpoint.ServiceAddress, "v1/"),
            // The SDK's own transport would try to resolve "api" through DNS; this client goes through service
            // discovery and the resilience handler instead.
            Transport = new HttpClientPipelineTransport(http),
            // The resilience handler decides about retries; a second layer would restart generations.
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
            // A local model on a CPU may think for minutes before its first token (the SDK's default is 100 s).
            NetworkTimeout = TimeSpan.FromMinutes(10),
        };
        // The SDK insists on a key even for an open API. Each request names its model through
        // ChatOptions.ModelId (the picker's choice), which replaces this client-level name.
        var key = services.GetRequiredService<LlmStackApiEndpoint>().ApiKey ?? "no-key-configured";
        return new OpenAIClient(new ApiKeyCredential(key), options)
            .GetChatClient("unselected")
            .AsIChatClient();
    }
}
