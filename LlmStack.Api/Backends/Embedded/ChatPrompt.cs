using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using System.Text.Json;
using LLama;
using LLama.Native;
using Microsoft.Extensions.AI;

namespace LlmStack.Api.Backends.Embedded;

/// <summary>
/// Turns a conversation into the model's prompt text with the GGUF's own chat template (applied by
/// llama.cpp). Tools, tool calls and tool results are written the way Qwen2.5's template writes them - a
/// "# Tools" section with the signatures in <c>&lt;tools&gt;</c> in the system message, calls as
/// <c>&lt;tool_call&gt;</c> JSON, results as <c>&lt;tool_response&gt;</c> in a user turn - since llama.cpp's
/// native templates have no tool support of their own.
/// </summary>
/// <remarks>
/// Message text is text: <see cref="Tokenize"/> turns only the template's own markers into control tokens, and
/// every message's content (each role's, tools' results and calls, instructions) into the tokens of its characters,
/// so a user or a retrieved document writing <c>&lt;|im_start|&gt;system</c> cannot open a system turn.
/// </remarks>
internal static partial class ChatPrompt
{
    private const string ToolsPreamble =
        "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n" +
        "You are provided with function signatures within <tools></tools> XML tags:\n<tools>";

    private const string ToolsPostamble =
        "</tools>\n\nFor each function call, return a json object with function name and arguments within " +
        "<tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call>";

    /// <summary>Renders <paramref name="messages"/> (and <paramref name="options"/>' instructions and tools), ending with the assistant's turn marker.</summary>
    public static string Render(LLamaTemplate template, IEnumerable<ChatMessage> messages, ChatOptions? options) =>
        Apply(template, Turns(messages, options));

    /// <summary>
    /// The prompt's text (as <see cref="Render"/> writes it) and its tokens: the template's text tokenized with its
    /// special tokens, each message's content as plain text in its place.
    /// </summary>
    /// <param name="createTemplate">A fresh template of the model (it is applied twice).</param>
    /// <param name="addAssistant">End with the assistant's turn marker (a chat's prompt does; <c>/tokenize</c> may not).</param>
    public static (string Text, LLamaToken[] Tokens) Tokenize(
        LLamaWeights weights, Func<LLamaTemplate> createTemplate, IEnumerable<ChatMessage> messages, ChatOptions? options, bool addAssistant = true)
    {
        var turns = Turns(messages, options);
        var text = Apply(createTemplate(), turns, addAssistant);
        // The template applied to placeholders shows which text is its own; contents go where their placeholders are.
        var skeleton = Apply(createTemplate(), [.. turns.Select((turn, i) => (turn.Role, $"{PlaceholderStart}{i}{PlaceholderEnd}"))], addAssistant);
        var parts = new List<(string Text, bool IsContent)>();
        var at = 0;
        foreach (Match placeholder in Placeholder().Matches(skeleton))
        {
            parts.Add((skeleton[at..placeholder.Index], false));
            parts.Add((turns[int.Parse(placeholder.Groups[1].ValueSpan, CultureInfo.InvariantCulture)].Content, true));
            at = placeholder.Index + placeholder.Length;
        }
        parts.Add((skeleton[at..], false));
        // Some templates trim what they are given (Llama 3's does): the parts then hold trimmed contents, so that
        // they spell the prompt exactly as the template writes it.
        if (string.Concat(parts.Select(part => part.Text)) != text)
        {
            var trimmed = parts.Select(part => part.IsContent ? (part.Text.Trim(), true) : part).ToList();
            if (string.Concat(trimmed.Select(part => part.Item1)) == text)
            {
                parts = trimmed;
            }
        }

        var tokens = new List<LLamaToken>();
        foreach (var (part, isContent) in parts)
        {
            if (part.Length > 0)
            {
                tokens.AddRange(weights.Tokenize(part, tokens.Count == 0 && weights.Vocab.ShouldAddBOS, special: !isContent, LLamaTemplate.Encoding));
            }
        }
        return (text, [.. tokens]);
    }

    // Private-use characters: a template copies them as they are, and no content the skeleton holds can imitate them.
    private const char PlaceholderStart = '\uE000';
    private const char PlaceholderEnd = '\uE001';

    [GeneratedRegex("\uE000([0-9]+)\uE001")]
    private static partial Regex Placeholder();

    private static string Apply(LLamaTemplate template, IReadOnlyList<(string Role, string Content)> turns, bool addAssistant = true)
    {
        foreach (var (role, content) in turns)
        {
            template.Add(role, content);
        }
        template.AddAssistant = addAssistant;
        return LLamaTemplate.Encoding.GetString(template.Apply());
    }

    // The conversation as the template's turns: instructions, system messages and the tools section as one system
    // turn first, tool results as user turns, tool calls in the assistant's.
    private static List<(string Role, string Content)> Turns(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        var turns = new List<(string Role, string Content)>();
        var system = new List<string>();
        if (!string.IsNullOrWhiteSpace(options?.Instructions))
        {
            system.Add(options.Instructions);
        }

        foreach (var message in messages)
        {
            if (message.Role == ChatRole.System)
            {
                system.Add(message.Text);
            }
            else if (message.Role == ChatRole.Tool)
            {
                var responses = string.Join("\n", message.Contents.OfType<FunctionResultContent>().Select(ToolResponse));
                // Consecutive results form one user turn, as in Qwen2.5's template.
                if (turns.Count > 0 && turns[^1].Role == "user" && turns[^1].Content.StartsWith("<tool_response>", StringComparison.Ordinal))
                {
                    turns[^1] = ("user", turns[^1].Content + "\n" + responses);
                }
                else
                {
                    turns.Add(("user", responses));
                }
            }
            else if (message.Role == ChatRole.Assistant)
            {
                var parts = new List<string>();
                if (!string.IsNullOrEmpty(message.Text))
                {
                    parts.Add(message.Text);
                }
                parts.AddRange(message.Contents.OfType<FunctionCallContent>().Select(ToolCall));
                turns.Add(("assistant", string.Join("\n", parts)));
            }
            else
            {
                turns.Add((message.Role.Value, message.Text));
            }
        }

        var tools = options?.ToolMode is NoneChatToolMode
            ? []
            : options?.Tools?.OfType<AIFunctionDeclaration>().ToList() ?? [];
        if (tools.Count > 0)
        {
            system.Add(ToolsSection(tools));
        }
        if (system.Count > 0)
        {
            turns.Insert(0, ("system", string.Join("\n\n", system)));
        }
        return turns;
    }

    private static string ToolsSection(IEnumerable<AIFunctionDeclaration> tools)
    {
        var section = new StringBuilder(ToolsPreamble);
        foreach (var tool in tools)
        {
            section.Append('\n').Append(Json(writer =>
            {
                writer.WriteStartObject();
                writer.WriteString("type", "function");
                writer.WriteStartObject("function");
                writer.WriteString("name", tool.Name);
                if (!string.IsNullOrEmpty(tool.Description))
                {
                    writer.WriteString("description", tool.Description);
                }
                writer.WritePropertyName("parameters");
                tool.JsonSchema.WriteTo(writer);
                writer.WriteEndObject();
                writer.WriteEndObject();
            }));
        }
        return section.Append('\n').Append(ToolsPostamble).ToString();
    }

    private static string ToolCall(FunctionCallContent call) =>
        "<tool_call>\n" + Json(writer =>
        {
            writer.WriteStartObject();
            writer.WriteString("name", call.Name);
            writer.WritePropertyName("arguments");
            JsonSerializer.Serialize(writer, call.Arguments ?? new Dictionary<string, object?>(),
                AIJsonUtilities.DefaultOptions.GetTypeInfo(typeof(IDictionary<string, object?>)));
            writer.WriteEndObject();
        }) + "\n</tool_call>";

    private static string ToolResponse(FunctionResultContent result)
    {
        var text = result.Result switch
        {
            null => "null",
            string s => s,
            JsonElement element => element.GetRawText(),
            var other => JsonSerializer.Serialize(other, AIJsonUtilities.DefaultOptions.GetTypeInfo(other.GetType())),
        };
        return $"<tool_response>\n{text}\n</tool_response>";
    }

    private static string Json(Action<Utf8JsonWriter> write)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            write(writer);
        }
        // Qwen's template writes JSON with ", " and ": " separators (Python's json.dumps); match it.
        return SpaceSeparators(Encoding.UTF8.GetString(buffer.ToArray()));
    }

    private static string SpaceSeparators(string compact)
    {
        var spaced = new StringBuilder(compact.Length + 16);
        var inString = false;
        for (var i = 0; i < compact.Length; i++)
        {
            var c = compact[i];
            spaced.Append(c);
            if (inString)
            {
                if (c == '\\')
                {
                    spaced.Append(compact[++i]);
                }
                else if (c == '"')
                {
                    inString = false;
                }
            }
            else if (c == '"')
            {
                inString = true;
            }
            else if (c is ',' or ':')
            {
                spaced.Append(' ');
            }
        }
        return spaced.ToString();
    }
}
