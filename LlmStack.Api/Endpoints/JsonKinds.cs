using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace LlmStack.Api.Endpoints;

/// <summary>How error messages name JSON values: what was sent (<c>a string</c>) and what a contract takes (<c>a number</c>).</summary>
internal static class JsonKinds
{
    /// <summary>The kind of a value that was sent: "a string", "a number", "a boolean", "an array", "an object", "null".</summary>
    public static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Array => "an array",
        JsonValueKind.Object => "an object",
        _ => "null",
    };

    /// <summary>What a contract type takes, in the same words: "a number", "an integer", "a string", ...</summary>
    public static string Expected(JsonTypeInfo type) => type.Kind switch
    {
        JsonTypeInfoKind.Object or JsonTypeInfoKind.Dictionary => "an object",
        JsonTypeInfoKind.Enumerable => "an array",
        _ => Type.GetTypeCode(type.Type) switch
        {
            TypeCode.Double or TypeCode.Single or TypeCode.Decimal => "a number",
            TypeCode.Byte or TypeCode.SByte or TypeCode.Int16 or TypeCode.UInt16 or TypeCode.Int32 or TypeCode.UInt32
                or TypeCode.Int64 or TypeCode.UInt64 => "an integer",
            TypeCode.Boolean => "a boolean",
            TypeCode.String => "a string",
            _ => "a JSON value",
        },
    };
}
