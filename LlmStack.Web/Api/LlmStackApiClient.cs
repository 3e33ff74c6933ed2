using System.Net;

namespace LlmStack.Web.Api;

/// <summary>
/// The API's plain HTTP endpoints the page polls: <c>/v1/models</c> for the picker and <c>/readyz</c> for the
/// status banner. Chat itself goes through the OpenAI SDK (see <see cref="LlmStackApiExtensions"/>).
/// </summary>
public sealed class LlmStackApiClient(HttpClient http, LlmStackApiEndpoint endpoint)
{
    /// <summary>The API's readiness check whose data holds one entry per model (LlmStack.Api's ModelReadinessHealthCheck).</summary>
    private const string ModelsCheckName = "models";

    /// <summary>Where the API was found, for messages a person reads.</summary>
    public Uri Address => endpoint.Address!; // Validated at start.

    /// <summary>Asks the API whether it can answer and which models it serves.</summary>
    public async Task<ApiStatus> GetStatusAsync(CancellationToken cancellationToken)
    {
        try
        {
            var readiness = await GetReadinessAsync(cancellationToken);
            var models = await http.GetFromJsonAsync("/v1/models", ApiJsonContext.Default.ModelList, cancellationToken);
            return new ApiStatus(readiness.IsReady ? ApiState.Ready : ApiState.NotReady, readiness.Detail, models?.Data ?? [])
            {
                NotReadyModels = readiness.NotReadyModels,
            };
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            // Whatever stopped the probe (refused, timed out, not an LlmStack API, not resolvable), the banner
            // says so and the next poll tries again; the page must never break over it.
            return new ApiStatus(ApiState.Unreachable, ApiErrors.DescribeUnreachable(ex, Address), []);
        }
    }

    private async Task<(bool IsReady, string? Detail, IReadOnlyDictionary<string, string> NotReadyModels)> GetReadinessAsync(
        CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync("/readyz", cancellationToken);
        if (response.IsSuccessStatusCode)
        {
            return (true, null, ApiStatus.NoModels);
        }
        if (response.StatusCode != HttpStatusCode.ServiceUnavailable)
        {
            response.EnsureSuccessStatusCode();
        }

        // 503: some model is not ready yet (being pulled, loading, or its backend unreachable). The report names it.
        var report = await response.Content.ReadFromJsonAsync(ApiJsonContext.Default.ReadinessReport, cancellationToken);
        // Each model's entry reads "<backend>: <status> - <why>"; a person needs the model and the why.
        var notReady = (report?.Checks ?? [])
            .Where(check => !string.Equals(check.Status, "Healthy", StringComparison.OrdinalIgnoreCase))
            .ToList();
        var models = notReady
            .Where(check => check.Name == ModelsCheckName && check.Data is { Count: > 0 })
            .SelectMany(check => check.Data!)
            .Where(d => !d.Value.Contains(": Healthy", StringComparison.OrdinalIgnoreCase))
            .ToDictionary(d => d.Key, d => d.Value.Split(" - ", 2)[^1], StringComparer.Ordinal);
        var reasons = notReady
            .SelectMany(check => check.Name == ModelsCheckName && check.Data is { Count: > 0 }
                ? models.Select(m => $"{m.Key}: {m.Value}")
                : [check.Description ?? check.Name])
            .ToList();
        return (false, reasons.Count > 0 ? string.Join("; ", reasons) : null, models);
    }
}

public enum ApiState
{
    /// <summary><c>/readyz</c> answered 200.</summary>
    Ready,

    /// <summary>The API answers but a model is still downloading or loading (<c>/readyz</c> 503).</summary>
    NotReady,

    /// <summary>No answer, or an answer that is not the API's.</summary>
    Unreachable,
}

/// <summary>What the status banner, the model picker and the send button show.</summary>
public sealed record ApiStatus(ApiState State, string? Detail, IReadOnlyList<ModelEntry> Models)
{
    internal static readonly IReadOnlyDictionary<string, string> NoModels = new Dictionary<string, string>();

    /// <summary>Before the first probe answers: no banner, no models yet.</summary>
    public static ApiStatus Unknown { get; } = new(ApiState.Ready, null, []);

    /// <summary>
    /// The served models that cannot answer yet (still downloading or loading, or their backend unreachable), each
    /// with the API's reason. A message to one of them would only get 503 "model is loading".
    /// </summary>
    public IReadOnlyDictionary<string, string> NotReadyModels { get; init; } = NoModels;

    /// <summary>Why <paramref name="model"/> cannot answer yet; null when it can (or is unknown).</summary>
    public string? WhyNotReady(string? model) =>
        model is not null && NotReadyModels.TryGetValue(model, out var reason) ? reason : null;

    /// <summary>Equal as far as a person can see (the record's own equality compares the model list by reference).</summary>
    public bool IsSameAs(ApiStatus other) =>
        State == other.State && Detail == other.Detail && Models.SequenceEqual(other.Models)
        && NotReadyModels.Count == other.NotReadyModels.Count
        && NotReadyModels.All(m => other.NotReadyModels.TryGetValue(m.Key, out var reason) && reason == m.Value);
}
