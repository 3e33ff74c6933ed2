using System.Text.Json;
using LlmStack.Api.Backends;
using Microsoft.Extensions.AI;

namespace LlmStack.Api.Endpoints;

/// <summary>
/// A function the client offers the model: name, description, parameter schema, and whether the schema is
/// <c>strict</c> (kept under Microsoft.Extensions.AI's key, which the OpenAI backend forwards and the embedded
/// engine's grammar honours), and where the request carries the schema (<paramref name="parametersParam"/>, for errors).
/// </summary>
internal sealed class ToolDeclaration(string name, string? description, JsonElement parameters, bool strict, string? parametersParam = null) : AIFunctionDeclaration
{
    private readonly IReadOnlyDictionary<string, object?> _properties = Properties(strict, parametersParam);

    public override string Name => name;

    public override string Description => description ?? "";

    public override JsonElement JsonSchema => parameters;

    public override IReadOnlyDictionary<string, object?> AdditionalProperties => _properties;

    private static Dictionary<string, object?> Properties(bool strict, string? parametersParam)
    {
        var properties = new Dictionary<string, object?>();
        if (strict)
        {
            properties[LlmStackChatOptions.StrictKey] = true;
        }
        if (parametersParam is not null)
        {
            properties[LlmStackChatOptions.SchemaParamKey] = parametersParam;
        }
        return properties;
    }
}
