using System.Text.Json;
using LlmStack.Api.Backends;
using Microsoft.Extensions.AI;

namespace LlmStack.Api.Endpoints;

/// <summary>
/// A function the client offers the model: name, description, parameter schema, and whether the schema is
/// <c>strict</c> (kept under Microsoft.Extensions.AI's key, which the OpenAI backend forwards and the embedded
/// engine's grammar honours).
/// </summary>
internal sealed class ToolDeclaration(string name, string? description, JsonElement parameters, bool strict) : AIFunctionDeclaration
{
    private readonly IReadOnlyDictionary<string, object?> _properties = strict
        ? new Dictionary<string, object?> { [LlmStackChatOptions.StrictKey] = true }
        : new Dictionary<string, object?>();

    public override string Name => name;

    public override string Description => description ?? "";

    public override JsonElement JsonSchema => parameters;

    public override IReadOnlyDictionary<string, object?> AdditionalProperties => _properties;
}
