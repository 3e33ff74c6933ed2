using LlmStack.Api.Models;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Http;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Options;

namespace LlmStack.Api.Backends.Upstream;

/// <summary>
/// One named <see cref="HttpClient"/> per model served over HTTP (ollama, openai), from
/// <see cref="IHttpClientFactory"/> so that service discovery (<c>http://ollama</c> under Aspire) and HTTP
/// telemetry apply. The models are only known once configuration is bound, so the clients are configured
/// on first use from <c>LlmStack:Models</c> rather than registered one by one at start.
/// </summary>
internal static class UpstreamHttpClients
{
    private const string NamePrefix = "LlmStack.Models:";

    /// <summary>The factory name of a model's client.</summary>
    public static string NameOf(ModelOptions model) => NamePrefix + model.Id;

    public static IServiceCollection AddUpstreamHttpClients(this IServiceCollection services)
    {
        services.AddHttpClient();
        services.TryAddEnumerable(
            ServiceDescriptor.Singleton<IConfigureOptions<HttpClientFactoryOptions>, UpstreamHttpClientSetup>());
        return services;
    }

    /// <summary>
    /// The policy of a backend connection, which differs from the service defaults on purpose:
    /// <list type="bullet">
    /// <item>No retries and no circuit breaker. A completion is never sent twice, and a readiness probe is
    /// itself repeated by whoever probes; retrying inside it would only turn "connection refused" (0.1 s)
    /// into a 14 s wait.</item>
    /// <item>No request timeout here: the connect timeout bounds reaching the server and the first-token
    /// timeout (in the chat pipeline) bounds the wait for an answer, each with its own 504 message, while a
    /// long generation streams for as long as it needs.</item>
    /// </list>
    /// Service discovery and telemetry from the defaults are kept.
    /// </summary>
    /// <remarks>
    /// Options are resolved when a client is first configured, not injected: validating
    /// <see cref="LlmStackOptions"/> needs the backends, which need <see cref="IHttpClientFactory"/>, whose
    /// setup is this class - injecting the options would make a dependency cycle that hangs the container.
    /// </remarks>
    private sealed class UpstreamHttpClientSetup(IServiceProvider services) : IConfigureNamedOptions<HttpClientFactoryOptions>
    {
        public void Configure(string? name, HttpClientFactoryOptions options)
        {
            if (name is null || !name.StartsWith(NamePrefix, StringComparison.Ordinal))
            {
                return;
            }
            var id = name[NamePrefix.Length..];
            var llmStack = services.GetRequiredService<IOptions<LlmStackOptions>>();
            var model = llmStack.Value.Models.FirstOrDefault(m => m.Id == id)
                ?? throw new InvalidOperationException($"No model '{id}' is configured under LlmStack:Models.");

            options.HttpMessageHandlerBuilderActions.Add(handlers =>
            {
                handlers.PrimaryHandler = new SocketsHttpHandler
                {
                    ConnectTimeout = model.ConnectTimeout,
                    // The client lives as long as the model: renew connections so that DNS changes are seen.
                    PooledConnectionLifetime = TimeSpan.FromMinutes(5),
                };
                for (var i = handlers.AdditionalHandlers.Count - 1; i >= 0; i--)
                {
                    if (handlers.AdditionalHandlers[i] is ResilienceHandler)
                    {
                        handlers.AdditionalHandlers.RemoveAt(i);
                    }
                }
                handlers.AdditionalHandlers.Add(new UpstreamErrorHandler());
            });
            options.HttpClientActions.Add(client => client.Timeout = Timeout.InfiniteTimeSpan);
        }

        public void Configure(HttpClientFactoryOptions options) => Configure(Options.DefaultName, options);
    }
}
