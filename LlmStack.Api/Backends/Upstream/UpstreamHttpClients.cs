using System.Collections.Concurrent;
using LlmStack.Api.Models;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Http;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Options;

namespace LlmStack.Api.Backends.Upstream;

/// <summary>
/// One named <see cref="HttpClient"/> per model served over HTTP (ollama, openai), from
/// <see cref="IHttpClientFactory"/> so that service discovery (<c>http://ollama</c> under Aspire) and HTTP
/// telemetry apply. Models are only known once configuration is bound, so each client is configured on first
/// use from the model's settings rather than registered one by one at start.
/// </summary>
internal sealed class UpstreamHttpClients(IHttpClientFactory factory)
{
    private const string NamePrefix = "LlmStack.Models:";

    private readonly ConcurrentDictionary<string, ModelOptions> _models = new(StringComparer.Ordinal);

    /// <summary>The client for <paramref name="model"/>, configured from its settings.</summary>
    public HttpClient CreateClient(ModelOptions model)
    {
        var name = NamePrefix + model.Id;
        _models[name] = model;
        return factory.CreateClient(name);
    }

    public static void AddTo(IServiceCollection services)
    {
        services.AddHttpClient();
        services.TryAddSingleton<UpstreamHttpClients>();
        services.TryAddEnumerable(
            ServiceDescriptor.Singleton<IConfigureOptions<HttpClientFactoryOptions>, UpstreamHttpClientSetup>());
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
    // Resolves the clients through the service provider: taking UpstreamHttpClients directly would make the
    // factory's options depend on the factory.
    private sealed class UpstreamHttpClientSetup(IServiceProvider services) : IConfigureNamedOptions<HttpClientFactoryOptions>
    {
        public void Configure(string? name, HttpClientFactoryOptions options)
        {
            if (name is null || !name.StartsWith(NamePrefix, StringComparison.Ordinal) ||
                !services.GetRequiredService<UpstreamHttpClients>()._models.TryGetValue(name, out var model))
            {
                return;
            }

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
