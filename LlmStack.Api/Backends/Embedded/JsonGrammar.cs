using System.Text.Encodings.Web;
using System.Text.Json;
using LLama.Sampling;

namespace LlmStack.Api.Backends.Embedded;

/// <summary>
/// GBNF grammars that make llama.cpp sample only valid JSON, whatever the model would prefer
/// (<c>response_format: json_object</c>, <c>tool_choice: required</c>). Adapted from llama.cpp's
/// <c>grammars/json.gbnf</c>.
/// </summary>
public static class JsonGrammar
{
    private const string Rules = """
        value  ::= object | array | string | number | ("true" | "false" | "null") ws
        object ::= "{" ws ( string ":" ws value ( "," ws string ":" ws value )* )? "}" ws
        array  ::= "[" ws ( value ( "," ws value )* )? "]" ws
        string ::= "\"" ( [^"\\\x7F\x00-\x1F] | "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F]{4} ) )* "\"" ws
        number ::= "-"? ( [0-9] | [1-9] [0-9]{0,15} ) ( "." [0-9]+ )? ( [eE] [-+]? [0-9] [0-9]{0,15} )? ws
        ws     ::= | " " | "\n" [ \t]{0,20}
        """;

    /// <summary>A JSON object (what OpenAI's JSON mode promises), with nothing before or after it.</summary>
    public static Grammar Object { get; } = new("root ::= object\n" + Rules, "root");

    /// <summary>
    /// Exactly one Qwen2.5/Hermes-style tool call of one of <paramref name="names"/>:
    /// <c>&lt;tool_call&gt;\n{"name": "...", "arguments": {...}}\n&lt;/tool_call&gt;</c>.
    /// </summary>
    public static Grammar ToolCall(IEnumerable<string> names)
    {
        var alternatives = string.Join(" | ", names.Distinct(StringComparer.Ordinal).Select(name => Literal(Quote(name))));
        if (alternatives.Length == 0)
        {
            throw new ArgumentException("A tool call needs at least one tool name.", nameof(names));
        }
        var root = $"root ::= {Literal("<tool_call>\n{\"name\": ")} ( {alternatives} ) {Literal(", \"arguments\": ")} object {Literal("}\n</tool_call>")}\n";
        return new Grammar(root + Rules, "root");
    }

    private static string Quote(string name) =>
        "\"" + JsonEncodedText.Encode(name, JavaScriptEncoder.UnsafeRelaxedJsonEscaping) + "\"";

    // A GBNF string literal: backslash, quote and newline escaped.
    private static string Literal(string text) =>
        "\"" + text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal) + "\"";
}
