using LlmStack.Api.Configuration;
using LlmStack.Api.Pipeline;

namespace LlmStack.Api.Backends.Upstream;

/// <summary>
/// One named <see cref="HttpClient"/> per model served over HTTP (ollama, openai), registered once at start from
/// <c>LlmStack:Models</c> with <see cref="IHttpClientFactory"/>, so that service discovery (<c>http://ollama</c>
/// under Aspire) and HTTP telemetry apply.
/// </summary>
/// <remarks>
/// The policy of a backend connection: the model's connect timeout, then no HTTP timeout and no resilience
/// handler. A completion is never sent twice, and a readiness probe is itself repeated by whoever probes; the
/// connect timeout bounds reaching the server and the first-token deadline (in the model's pipeline) bounds the
/// wait for an answer, each with its own 504 message, while a long generation streams for as long as it needs.
/// </remarks>
internal static class UpstreamHttpClients
{
    private const string NamePrefix = "LlmStack.Models:";

    /// <summary>The name of <paramref name="model"/>'s client.</summary>
    public static string NameOf(ModelOptions model) =>
        model.ReplicaIndex is { } replica ? $"{NamePrefix}{model.Id}:Replicas:{replica}" : NamePrefix + model.Id;

    /// <summary>Registers the client of every configured model whose backend is reached over HTTP.</summary>
    public static IHostApplicationBuilder AddUpstreamHttpClients(this IHostApplicationBuilder builder, params string[] httpBackends)
    {
        var models = builder.Configuration.GetSection(LlmStackOptions.SectionName).Get<LlmStackOptions>()?.Models ?? [];
        // A model with replicas has one client per replica (each its own server).
        var served = models.SelectMany(m => m.Replicas.Count == 0 ? [m] : m.Replicas.Select((_, index) => m.ForReplica(index)));
        foreach (var model in served.Where(m => httpBackends.Contains(m.Backend, StringComparer.OrdinalIgnoreCase)))
        {
            builder.Services.AddHttpClient(NameOf(model), http => http.Timeout = Timeout.InfiniteTimeSpan)
                .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler
                {
                    // A bad value is reported by validation at start, before any client is made.
                    ConnectTimeout = model.ConnectTimeout > TimeSpan.Zero ? model.ConnectTimeout : Timeout.InfiniteTimeSpan,
                    // The client lives as long as the model: renew connections so that DNS changes are seen.
                    PooledConnectionLifetime = TimeSpan.FromMinutes(5),
                })
                .AddHttpMessageHandler(() => new UpstreamErrorHandler());
        }
        return builder;
    }
}
