using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace LlmStack.Api.Telemetry;

/// <summary>
/// LlmStack's own server instruments, named after the OpenTelemetry GenAI semantic conventions' server metrics
/// (<c>gen_ai.server.*</c>) so that dashboards built for them work unchanged, and apart from
/// Microsoft.Extensions.AI's client instruments (<c>gen_ai.client.*</c>, which measure the pipeline below).
/// Exported over OTLP and on <c>/metrics</c> (e.g. <c>gen_ai_server_time_to_first_token_seconds_bucket</c>).
/// Each request's figures come from its outcome (recorded by the endpoints' request telemetry); times are measured
/// from the moment routing finds the request's endpoint (before the drain check, authentication and the key's budgets).
/// </summary>
internal sealed class LlmStackMetrics : IDisposable
{
    public const string MeterName = "LlmStack.Api";

    // Attribute names (semantic conventions).
    public const string RequestModel = "gen_ai.request.model";
    public const string OperationName = "gen_ai.operation.name";
    public const string ProviderName = "gen_ai.provider.name";
    public const string TokenType = "gen_ai.token.type";
    public const string ErrorType = "error.type";
    public const string FinishReason = "llmstack.response.finish_reason";

    /// <summary>
    /// <see cref="RequestModel"/> of a request refused before a model was chosen (a body that does not parse or
    /// validate, an unknown model): one fixed value, never the requested name, so clients cannot add label values.
    /// Configuration validation refuses it as a model id, so no model shares its series.
    /// </summary>
    public const string NoModel = "(none)";
    public const string RejectionReasonTag = "llmstack.rejection.reason";
    public const string ApiKeyTag = "llmstack.api_key";
    public const string ServerAddress = "server.address";

    // Fine around the 300 ms target: the conventions' own buckets jump from 0.25 s to 0.5 s.
    private static readonly double[] TimeToFirstTokenBuckets =
        [0.01, 0.025, 0.05, 0.075, 0.1, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2, 5, 10, 30, 60];

    private static readonly double[] TimePerOutputTokenBuckets =
        [0.001, 0.0025, 0.005, 0.01, 0.02, 0.033, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2.5];

    private static readonly double[] DurationBuckets =
        [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600];

    private static readonly int[] TokenBuckets =
        [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576];

    private readonly Meter _meter;
    private readonly ConcurrentDictionary<(string Reason, string? Model, string? ApiKey), long> _rejections = new();
    private readonly ConcurrentDictionary<Func<IEnumerable<(TagList Tags, bool InRotation)>>, byte> _replicaStates = new();

    public LlmStackMetrics(IMeterFactory meterFactory)
    {
        _meter = meterFactory.Create(MeterName);
        TimeToFirstToken = _meter.CreateHistogram("gen_ai.server.time_to_first_token", "s",
            "Streamed requests: from routing finding the endpoint (before authentication) to the first non-empty content (text, reasoning or tool call) leaving the model's pipeline.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = TimeToFirstTokenBuckets });
        TimePerOutputToken = _meter.CreateHistogram("gen_ai.server.time_per_output_token", "s",
            "Streamed requests: from the first token to the end of the model's reply, divided by the output tokens after the first (decode speed).",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = TimePerOutputTokenBuckets });
        RequestDuration = _meter.CreateHistogram("gen_ai.server.request.duration", "s",
            "From routing finding the endpoint (before authentication) to its response completely sent ([DONE] included) or abandoned by the client; by error.type and llmstack.response.finish_reason.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
        TokenUsage = _meter.CreateHistogram("gen_ai.server.token.usage", "{token}",
            "Tokens per request as the backend reported them, by gen_ai.token.type (input, output).",
            advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = TokenBuckets });
        RequestsActive = _meter.CreateUpDownCounter<int>("llmstack.requests.active", "{request}",
            "Calls to a model in progress now (queued or generating), from the call's start to the end of the model's reply.");
        RequestsQueued = _meter.CreateUpDownCounter<int>("llmstack.requests.queued", "{request}",
            "Requests waiting for a generation slot.");
        QueueTime = _meter.CreateHistogram("llmstack.request.queue_time", "s",
            "Time a request waited for a generation slot.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = TimeToFirstTokenBuckets });
        // Observed rather than added to: the series exist at 0 from the start, whenever the exporter subscribes -
        // an alert on a rate of rejections must not see "no data" before the first one.
        foreach (var reason in RejectionReason.All)
        {
            _rejections[(reason, null, null)] = 0;
        }
        _meter.CreateObservableCounter("llmstack.requests.rejected", ObserveRejections, "{request}",
            "Requests refused before reaching a model, by llmstack.rejection.reason: auth, rate, queue_full, queue_timeout, draining.");

        // The replicas of models with several backends (LlmStack:Models:<n>:Replicas), by server.address.
        ReplicaRequests = _meter.CreateCounter<long>("llmstack.replica.requests", "{request}",
            "Calls sent to a replica of a model, retries on another replica included.");
        ReplicaActive = _meter.CreateUpDownCounter<int>("llmstack.replica.active", "{request}",
            "Calls this API has in flight on a replica now (what least-outstanding routing compares).");
        ReplicaErrors = _meter.CreateCounter<long>("llmstack.replica.errors", "{request}",
            "Calls on a replica that failed, by error.type (backend_unavailable, backend_error, backend_timeout, rate_limit_exceeded, ...).");
        ReplicaTimeToFirstToken = _meter.CreateHistogram("llmstack.replica.time_to_first_token", "s",
            "Streamed calls: from sending the call to a replica to its first token.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = TimeToFirstTokenBuckets });
        ReplicaEjections = _meter.CreateCounter<long>("llmstack.replica.ejections", "{ejection}",
            "Times a replica was taken out of rotation after FailuresToEject failures in a row.");
        _meter.CreateObservableGauge("llmstack.replica.in_rotation", ObserveReplicaStates, "{replica}",
            "1 while a replica is in rotation, 0 while it is ejected and waiting for a probe to pass.");
    }

    public Counter<long> ReplicaRequests { get; }

    public UpDownCounter<int> ReplicaActive { get; }

    public Counter<long> ReplicaErrors { get; }

    public Histogram<double> ReplicaTimeToFirstToken { get; }

    public Counter<long> ReplicaEjections { get; }

    /// <summary>Adds a model's replicas to <c>llmstack.replica.in_rotation</c>.</summary>
    internal void ObserveReplicas(Func<IEnumerable<(TagList Tags, bool InRotation)>> states) => _replicaStates.TryAdd(states, 0);

    internal void StopObservingReplicas(Func<IEnumerable<(TagList Tags, bool InRotation)>> states) => _replicaStates.TryRemove(states, out _);

    private IEnumerable<Measurement<int>> ObserveReplicaStates() =>
        _replicaStates.Keys.SelectMany(states => states()).Select(state => new Measurement<int>(state.InRotation ? 1 : 0, state.Tags));

    public Histogram<double> TimeToFirstToken { get; }

    public Histogram<double> TimePerOutputToken { get; }

    public Histogram<double> RequestDuration { get; }

    public Histogram<int> TokenUsage { get; }

    public UpDownCounter<int> RequestsActive { get; }

    public UpDownCounter<int> RequestsQueued { get; }

    public Histogram<double> QueueTime { get; }

    /// <summary>Counts a refused request; <paramref name="model"/> and <paramref name="apiKey"/> (its name, never the secret) when known.</summary>
    public void Rejected(string reason, string? model, string? apiKey = null) =>
        _rejections.AddOrUpdate((reason, model, apiKey), 1, (_, count) => count + 1);

    private IEnumerable<Measurement<long>> ObserveRejections()
    {
        foreach (var ((reason, model, apiKey), count) in _rejections)
        {
            var tags = new TagList { { RejectionReasonTag, reason } };
            if (model is not null)
            {
                tags.Add(RequestModel, model);
            }
            if (apiKey is not null)
            {
                tags.Add(ApiKeyTag, apiKey);
            }
            yield return new Measurement<long>(count, tags);
        }
    }

    /// <summary>
    /// A model is served: its in-flight gauges are present at 0 from the start, so a dashboard or an alert does not
    /// see "no data" before the first request.
    /// </summary>
    internal void Served(string model, string backend, bool embeds)
    {
        RequestsActive.Add(0, Tags(model, backend, "chat"));
        if (embeds)
        {
            RequestsActive.Add(0, Tags(model, backend, "embeddings"));
        }
    }

    /// <summary>Counts a call to a model in flight until the returned scope is disposed.</summary>
    internal InFlightScope InFlight(string? model, string? backend, string operation)
    {
        var tags = Tags(model, backend, operation);
        RequestsActive.Add(1, tags);
        return new InFlightScope(RequestsActive, tags);
    }

    /// <summary>The attributes every request instrument carries.</summary>
    internal static TagList Tags(string? model, string? backend, string operation) => new()
    {
        { RequestModel, model },
        { OperationName, operation },
        { ProviderName, backend },
    };

    public void Dispose() => _meter.Dispose();

    /// <summary>A call in flight; disposing it ends it.</summary>
    internal readonly struct InFlightScope(UpDownCounter<int> counter, TagList tags) : IDisposable
    {
        public void Dispose() => counter.Add(-1, tags);
    }
}

/// <summary>Why a request was refused before it reached a model (<c>llmstack.rejection.reason</c>).</summary>
internal static class RejectionReason
{
    public const string Auth = "auth";
    public const string Rate = "rate";
    public const string QueueFull = "queue_full";
    public const string QueueTimeout = "queue_timeout";
    public const string Draining = "draining";

    public static readonly IReadOnlyList<string> All = [Auth, Rate, QueueFull, QueueTimeout, Draining];
}
