using System.Text.Json;
using System.Text.Json.Serialization;

namespace LlmStack.Web.Api;

/// <summary><c>GET /v1/models</c>: <c>{"object":"list","data":[...]}</c>.</summary>
public sealed record ModelList(IReadOnlyList<ModelEntry> Data);

/// <summary>
/// One entry of <c>/v1/models</c>. <c>demo</c> and <c>context_length</c> are LlmStack's additions to OpenAI's
/// model object; other servers leave them out.
/// </summary>
public sealed record ModelEntry(
    string Id,
    [property: JsonPropertyName("owned_by")] string? OwnedBy = null,
    bool Demo = false,
    [property: JsonPropertyName("context_length")] int? ContextLength = null);

/// <summary>The API's <c>/readyz</c> report (ServiceDefaults' HealthReportWriter).</summary>
public sealed record ReadinessReport(string Status, IReadOnlyList<ReadinessCheck>? Checks);

public sealed record ReadinessCheck(string Name, string Status, string? Description, IReadOnlyDictionary<string, string>? Data);

/// <summary>OpenAI's error envelope: <c>{"error":{"message","type","param","code"}}</c>.</summary>
public sealed record ErrorEnvelope(ErrorBody? Error);

public sealed record ErrorBody(string? Message, string? Type, string? Param, string? Code);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(ModelList))]
[JsonSerializable(typeof(ReadinessReport))]
[JsonSerializable(typeof(ErrorEnvelope))]
internal sealed partial class ApiJsonContext : JsonSerializerContext;
