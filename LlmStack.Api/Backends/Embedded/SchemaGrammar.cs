using System.Text.Json;
using LlmStack.Api.Errors;
using Microsoft.Extensions.AI;

namespace LlmStack.Api.Backends.Embedded;

/// <summary>
/// Where the embedded engine picks the grammar of a structured request: JSON mode is any JSON object; a JSON schema
/// response format or the parameter schemas of a required tool call become a <see cref="JsonSchemaGrammar"/>. A
/// schema the converter refuses (a keyword no grammar holds, a recursion that never ends, a size past its limits)
/// is a 400 naming where and why when the request is strict; a non-strict schema falls back to "any JSON object"
/// (what OpenAI promises without strict). Everything here runs on the request thread, before generation.
/// </summary>
internal static class SchemaGrammar
{
    /// <summary>The GBNF of JSON mode (<c>response_format: json_object</c>): any JSON object, nothing before or after it.</summary>
    public static string JsonObject { get; } = JsonSchemaGrammar.FromSchema(JsonDocument.Parse("""{"type":"object"}""").RootElement);

    /// <summary>
    /// The GBNF a request's options ask for, or null for free text: a required tool call, else the response
    /// format (a JSON schema, or JSON mode).
    /// </summary>
    /// <exception cref="ApiErrorException">A strict schema the converter refuses (400).</exception>
    public static string? For(ChatOptions? options, CancellationToken cancellationToken)
    {
        var tools = options?.Tools?.OfType<AIFunctionDeclaration>().ToList() ?? [];
        if (options?.ToolMode is RequiredChatToolMode required && tools.Count > 0)
        {
            return ToolCall(required.RequiredFunctionName is { } only ? tools.Where(t => t.Name == only) : tools, cancellationToken);
        }
        return options?.ResponseFormat switch
        {
            ChatResponseFormatJson { Schema: { } schema } => ForResponse(
                schema, LlmStackChatOptions.IsStrict(options.AdditionalProperties), LlmStackChatOptions.SchemaParamOf(options.AdditionalProperties), cancellationToken),
            ChatResponseFormatJson => JsonObject,
            _ => null,
        };
    }

    /// <summary>The GBNF of <c>response_format</c>/<c>text.format</c> json_schema (carried at <paramref name="schemaParam"/>).</summary>
    public static string ForResponse(JsonElement schema, bool strict, string? schemaParam = null, CancellationToken cancellationToken = default)
    {
        try
        {
            return JsonSchemaGrammar.FromSchema(schema, cancellationToken);
        }
        catch (UnsupportedSchemaException ex) when (strict)
        {
            throw Refusal(ex, "the response format's schema", schemaParam);
        }
        catch (UnsupportedSchemaException)
        {
            return JsonObject;
        }
    }

    /// <summary>The GBNF of one tool call among <paramref name="tools"/>, the arguments following each one's parameters.</summary>
    public static string ToolCall(IEnumerable<AIFunctionDeclaration> tools, CancellationToken cancellationToken = default)
    {
        var declared = tools.ToList();
        try
        {
            return JsonSchemaGrammar.ToolCall(
                declared.Select(tool => (tool.Name, (JsonElement?)tool.JsonSchema, LlmStackChatOptions.IsStrict(tool.AdditionalProperties))).ToList(), cancellationToken);
        }
        catch (UnsupportedSchemaException ex)
        {
            var tool = declared.FirstOrDefault(t => t.Name == ex.Function);
            throw Refusal(ex, $"the parameters of the function '{ex.Function}'", LlmStackChatOptions.SchemaParamOf(tool?.AdditionalProperties));
        }
    }

    // The param names the place in the request: the schema's own field, then the pointer inside it.
    private static ApiErrorException Refusal(UnsupportedSchemaException ex, string where, string? schemaParam) =>
        ApiErrorException.InvalidRequest(
            ex.Code == UnsupportedSchemaException.KeywordCode
                ? $"{ex.Message} It is used in {where}, which is strict: remove the keyword, or set strict to false."
                : $"{ex.Message} It is in {where}, which is strict.",
            schemaParam is null ? null : RequestParam.OfPointer(schemaParam, ex.SchemaPath),
            ex.Code);
}
