using System.Text.Json;
using LLama.Sampling;
using LlmStack.Api.Errors;
using Microsoft.Extensions.AI;

namespace LlmStack.Api.Backends.Embedded;

/// <summary>
/// Where the embedded engine picks the grammar of a structured request: a JSON schema response format or the
/// parameter schemas of a required tool call become a <see cref="JsonSchemaGrammar"/>. A schema keyword that no
/// grammar can hold is a 400 naming it when the request is strict; a non-strict schema falls back to "any JSON
/// object" (what OpenAI promises without strict).
/// </summary>
internal static class SchemaGrammar
{
    /// <summary>The key Microsoft.Extensions.AI uses for <c>strict</c> (in ChatOptions and tool properties); the OpenAI backend passes it on.</summary>
    public const string StrictKey = "strictJsonSchema";

    public static bool IsStrict(IReadOnlyDictionary<string, object?>? properties) =>
        properties is not null && properties.TryGetValue(StrictKey, out var strict) && strict is true;

    /// <summary>The grammar of <c>response_format</c>/<c>text.format</c> json_schema.</summary>
    public static Grammar ForResponse(JsonElement schema, bool strict)
    {
        try
        {
            return new Grammar(JsonSchemaGrammar.FromSchema(schema), JsonSchemaGrammar.RootRule);
        }
        catch (UnsupportedSchemaException ex) when (strict)
        {
            throw Refusal(ex, "the response format's schema");
        }
        catch (UnsupportedSchemaException)
        {
            return JsonGrammar.Object;
        }
    }

    /// <summary>The grammar of one tool call among <paramref name="tools"/>, the arguments following each one's parameters.</summary>
    public static Grammar ToolCall(IEnumerable<AIFunctionDeclaration> tools)
    {
        var functions = tools.Select(tool => (tool.Name, Parameters: ParametersOf(tool))).ToList();
        return new Grammar(JsonSchemaGrammar.ToolCall(functions), JsonSchemaGrammar.RootRule);
    }

    // Null (any object) for a non-strict schema the grammar cannot hold.
    private static JsonElement? ParametersOf(AIFunctionDeclaration tool)
    {
        try
        {
            JsonSchemaGrammar.FromSchema(tool.JsonSchema);
            return tool.JsonSchema;
        }
        catch (UnsupportedSchemaException ex) when (IsStrict(tool.AdditionalProperties))
        {
            throw Refusal(ex, $"the parameters of the function '{tool.Name}'");
        }
        catch (UnsupportedSchemaException)
        {
            return null;
        }
    }

    private static ApiErrorException Refusal(UnsupportedSchemaException ex, string where) =>
        ApiErrorException.InvalidRequest(
            $"{ex.Message} It is used in {where}, which is strict: remove the keyword, or set strict to false.",
            code: "unsupported_schema_keyword");
}
