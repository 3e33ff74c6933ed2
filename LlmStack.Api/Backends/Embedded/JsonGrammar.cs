using LLama.Sampling;

namespace LlmStack.Api.Backends.Embedded;

/// <summary>
/// GBNF grammars that make llama.cpp sample only valid JSON, whatever the model would prefer
/// (<c>response_format: json_object</c>). Adapted from llama.cpp's <c>grammars/json.gbnf</c>.
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
}
