using Microsoft.Extensions.AI;

namespace LlmStack.Api.Backends;

/// <summary>
/// What an OpenAI request asks of a backend beyond <see cref="ChatOptions"/>'s own properties, under the keys of
/// <see cref="ChatOptions.AdditionalProperties"/> (and of a tool's properties) that the endpoints set and the backends
/// read - the one vocabulary they share.
/// </summary>
internal static class LlmStackChatOptions
{
    /// <summary>The key Microsoft.Extensions.AI uses for <c>strict</c> (in ChatOptions and tool properties); the OpenAI backend passes it on.</summary>
    public const string StrictKey = "strictJsonSchema";

    /// <summary>OpenAI's <c>user</c>: the end user a request is made for.</summary>
    public const string UserKey = "user";

    /// <summary>
    /// Where a request carries the schema of its response format (under the request's properties) or of a function's
    /// parameters (under the tool's): <c>response_format.json_schema.schema</c>, <c>tools[0].parameters</c>. A backend
    /// that refuses a place inside the schema names it from there (<see cref="Errors.RequestParam.OfPointer"/>).
    /// </summary>
    public const string SchemaParamKey = "llmstack.schema_param";

    /// <summary>True when <paramref name="properties"/> (a request's or a tool's) ask for strict schema adherence.</summary>
    public static bool IsStrict(IReadOnlyDictionary<string, object?>? properties) =>
        properties is not null && properties.TryGetValue(StrictKey, out var strict) && strict is true;

    public static void SetStrict(ChatOptions options) => (options.AdditionalProperties ??= [])[StrictKey] = true;

    /// <summary>The request field holding the schema, as <see cref="SchemaParamKey"/> says; null when not known.</summary>
    public static string? SchemaParamOf(IReadOnlyDictionary<string, object?>? properties) =>
        properties is not null && properties.TryGetValue(SchemaParamKey, out var param) ? param as string : null;

    public static void SetSchemaParam(ChatOptions options, string param) => (options.AdditionalProperties ??= [])[SchemaParamKey] = param;

    public static void SetUser(ChatOptions options, string user) => (options.AdditionalProperties ??= [])[UserKey] = user;
}
