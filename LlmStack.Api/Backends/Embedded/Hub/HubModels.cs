using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using LlmStack.Api.Configuration;
using LlmStack.Api.Telemetry;
using Microsoft.Extensions.Options;

namespace LlmStack.Api.Backends.Embedded.Hub;

/// <summary>
/// Everything hub models share in one API process: the hub's HTTP client and settings (<c>HF_ENDPOINT</c>,
/// <c>HF_TOKEN</c>), the cache folder (<c>LlmStack:ModelCache</c>), and the progress of each model's download,
/// exported as <c>llmstack_model_download_bytes</c> (bytes of the file present) and
/// <c>llmstack_model_download_size_bytes</c> (its size) per model.
/// </summary>
internal sealed class HubModels
{
    /// <summary>The named HTTP client of the hub: redirects followed by hand (the token stays with the hub), no overall timeout.</summary>
    public const string HttpClientName = "llmstack-hub";

    private readonly ConcurrentDictionary<string, ModelDownloadProgress> _progress = new(StringComparer.Ordinal);
    private readonly IHttpClientFactory _httpClients;
    private readonly HubSettings _settings;
    private readonly ILoggerFactory _loggers;

    private readonly Lazy<ModelCache> _cache;

    // The options are read on first use: their validation asks the backends, one of which holds this.
    public HubModels(IHttpClientFactory httpClients, IConfiguration configuration, IServiceProvider services,
        ILoggerFactory loggers, IMeterFactory meters, TimeProvider? time = null)
    {
        _httpClients = httpClients;
        _loggers = loggers;
        _settings = HubSettings.From(configuration);
        Time = time ?? TimeProvider.System;
        _cache = new(() => new ModelCache(services.GetRequiredService<IOptions<LlmStackOptions>>().Value.ModelCache is { Length: > 0 } folder
            ? folder
            : ModelCache.DefaultRoot()));
        var meter = meters.Create(LlmStackMetrics.MeterName);
        meter.CreateObservableGauge("llmstack.model.download.bytes", () => Measure(p => p.DoneBytes), "By",
            "Bytes of a hub model's file present in the cache (downloaded so far, resumed bytes included), by gen_ai.request.model.");
        meter.CreateObservableGauge("llmstack.model.download.size", () => Measure(p => p.TotalBytes), "By",
            "Size of a hub model's file, by gen_ai.request.model (0 until the hub has told it).");
    }

    public ModelCache Cache => _cache.Value;

    public TimeProvider Time { get; }

    /// <summary>The progress of <paramref name="model"/>'s download, read by the metrics from now on.</summary>
    public ModelDownloadProgress Track(string model, string source) =>
        _progress[model] = new ModelDownloadProgress(model, source, Time);

    public ModelDownloader CreateDownloader() =>
        new(new HubClient(_httpClients.CreateClient(HttpClientName), _settings), Cache, _loggers.CreateLogger<ModelDownloader>(), Time);

    private IEnumerable<Measurement<long>> Measure(Func<ModelDownloadProgress, long> value) =>
        _progress.Values.Select(p => new Measurement<long>(value(p), new KeyValuePair<string, object?>(LlmStackMetrics.RequestModel, p.Model)));
}

internal static class HubModelsExtensions
{
    /// <summary>The hub client (no automatic redirects, no overall timeout: a download takes as long as it takes) and <see cref="HubModels"/>.</summary>
    public static IHostApplicationBuilder AddHubModels(this IHostApplicationBuilder builder)
    {
        builder.Services.AddHttpClient(HubModels.HttpClientName, http => http.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(CreateHandler);
        builder.Services.AddSingleton<HubModels>();
        return builder;
    }

    /// <summary>The hub client's handler: redirects followed by hand (the token stays with the hub), bytes as they are sent.</summary>
    public static SocketsHttpHandler CreateHandler() => new()
    {
        AllowAutoRedirect = false,
        ConnectTimeout = TimeSpan.FromSeconds(15),
        AutomaticDecompression = System.Net.DecompressionMethods.None,
    };
}
