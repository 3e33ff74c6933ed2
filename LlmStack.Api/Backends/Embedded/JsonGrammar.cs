using System.Text.Json;
using LLama.Sampling;

namespace LlmStack.Api.Backends.Embedded;

/// <summary>The grammar of OpenAI's JSON mode (<c>response_format: json_object</c>): any JSON object, nothing before or after it.</summary>
internal static class JsonGrammar
{
    public static Grammar Object { get; } = new(
        JsonSchemaGrammar.FromSchema(JsonDocument.Parse("""{"type":"object"}""").RootElement), JsonSchemaGrammar.RootRule);
}
