using System.Text.Json;
using System.Text.RegularExpressions;
using LlmStack.Api.Backends;
using LlmStack.Api.Backends.Embedded;
using LlmStack.Api.Configuration;
using LlmStack.Api.Contracts;
using LlmStack.Api.Errors;
using LlmStack.Api.Models;
using LlmStack.Api.Pipeline;
using Microsoft.Extensions.AI;

namespace LlmStack.Api.ChatCompletions;

/// <summary>
/// Checks a <see cref="ChatCompletionRequest"/> and turns it into <see cref="ChatMessage"/>s and
/// <see cref="ChatOptions"/>. Every refusal is a 400 naming the field at fault, including values the backends
/// cannot honour (n &gt; 1, logprobs, images for a text-only model): never silently ignored.
/// </summary>
internal static partial class ChatRequestMapping
{
    private const int MaxStopSequences = 4;

    internal static readonly JsonElement EmptyObjectSchema = JsonDocument.Parse("""{"type":"object","properties":{}}""").RootElement;

    /// <param name="maxOutputTokens">The ceiling on max_tokens (<c>LlmStack:MaxOutputTokens</c>).</param>
    public static ChatRequest ToChatRequest(this ChatCompletionRequest request, ServedModel model, int maxOutputTokens)
    {
        var stream = request.Stream ?? false;
        if (request.StreamOptions is not null && !stream)
        {
            throw ApiErrorException.InvalidRequest("'stream_options' is only allowed when 'stream' is true.", "stream_options");
        }
        return new ChatRequest(
            ToMessages(request.Messages, model),
            ToOptions(request, maxOutputTokens),
            stream,
            request.StreamOptions?.IncludeUsage ?? false);
    }

    private static List<ChatMessage> ToMessages(List<ChatCompletionMessage?>? messages, ServedModel model)
    {
        if (messages is null)
        {
            throw ApiErrorException.InvalidRequest("Missing required parameter: 'messages'.", "messages", "missing_required_parameter");
        }
        if (messages.Count == 0)
        {
            throw ApiErrorException.InvalidRequest("'messages' must contain at least one message.", "messages");
        }
        var result = new List<ChatMessage>(messages.Count);
        for (var i = 0; i < messages.Count; i++)
        {
            result.Add(ToMessage(messages[i], $"messages[{i}]", model));
        }
        return result;
    }

    private static ChatMessage ToMessage(ChatCompletionMessage? message, string param, ServedModel model)
    {
        if (message is null)
        {
            throw ApiErrorException.InvalidRequest($"'{param}' must be an object.", param);
        }
        var mapped = message.Role switch
        {
            null => throw ApiErrorException.InvalidRequest($"Missing required parameter: '{param}.role'.", $"{param}.role", "missing_required_parameter"),
            "system" or "developer" => new ChatMessage(ChatRole.System, ToContents(message.Content, param, model, ContentKinds.Text, required: true)),
            "user" => new ChatMessage(ChatRole.User, ToContents(message.Content, param, model, ContentKinds.Text | ContentKinds.Image, required: true)),
            "assistant" => ToAssistantMessage(message, param, model),
            "tool" => ToToolMessage(message, param, model),
            var role => throw ApiErrorException.InvalidRequest(
                $"Invalid value for '{param}.role': '{role}'. Supported values are: 'system', 'developer', 'user', 'assistant' and 'tool'.",
                $"{param}.role"),
        };
        mapped.AuthorName = message.Name;
        return mapped;
    }

    private static ChatMessage ToAssistantMessage(ChatCompletionMessage message, string param, ServedModel model)
    {
        var hasToolCalls = message.ToolCalls is { Count: > 0 };
        var contents = ToContents(message.Content, param, model, ContentKinds.Text | ContentKinds.Refusal, required: !hasToolCalls);
        for (var j = 0; hasToolCalls && j < message.ToolCalls!.Count; j++)
        {
            contents.Add(ToFunctionCall(message.ToolCalls[j], $"{param}.tool_calls[{j}]"));
        }
        return new ChatMessage(ChatRole.Assistant, contents);
    }

    private static FunctionCallContent ToFunctionCall(ToolCall? call, string param)
    {
        if (call is null)
        {
            throw ApiErrorException.InvalidRequest($"'{param}' must be an object.", param);
        }
        if (call.Type is not (null or "function"))
        {
            throw ApiErrorException.InvalidRequest($"Invalid value for '{param}.type': '{call.Type}'. Supported values are: 'function'.", $"{param}.type");
        }
        if (string.IsNullOrEmpty(call.Id))
        {
            throw ApiErrorException.InvalidRequest($"Missing required parameter: '{param}.id'.", $"{param}.id", "missing_required_parameter");
        }
        if (string.IsNullOrEmpty(call.Function?.Name))
        {
            throw ApiErrorException.InvalidRequest($"Missing required parameter: '{param}.function.name'.", $"{param}.function.name", "missing_required_parameter");
        }
        return new FunctionCallContent(call.Id, call.Function.Name, ParseArguments(call.Function.Arguments, $"{param}.function.arguments"));
    }

    internal static Dictionary<string, object?>? ParseArguments(string? arguments, string param)
    {
        if (string.IsNullOrWhiteSpace(arguments))
        {
            return null;
        }
        try
        {
            using var document = JsonDocument.Parse(arguments);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw ApiErrorException.InvalidRequest($"'{param}' must be a JSON object encoded as a string.", param);
            }
            return document.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => (object?)p.Value.Clone());
        }
        catch (JsonException)
        {
            throw ApiErrorException.InvalidRequest($"'{param}' is not valid JSON.", param);
        }
    }

    private static ChatMessage ToToolMessage(ChatCompletionMessage message, string param, ServedModel model)
    {
        if (string.IsNullOrEmpty(message.ToolCallId))
        {
            throw ApiErrorException.InvalidRequest($"Missing required parameter: '{param}.tool_call_id'.", $"{param}.tool_call_id", "missing_required_parameter");
        }
        var text = string.Concat(ToContents(message.Content, param, model, ContentKinds.Text, required: true).OfType<TextContent>().Select(t => t.Text));
        return new ChatMessage(ChatRole.Tool, [new FunctionResultContent(message.ToolCallId, text)]);
    }

    [Flags]
    private enum ContentKinds
    {
        Text = 1,
        Image = 2,
        Refusal = 4,
    }

    private static List<AIContent> ToContents(JsonElement? content, string messageParam, ServedModel model, ContentKinds allowed, bool required)
    {
        var param = $"{messageParam}.content";
        switch (content?.ValueKind)
        {
            case null or JsonValueKind.Null or JsonValueKind.Undefined when required:
                throw ApiErrorException.InvalidRequest($"Missing required parameter: '{param}'.", param, "missing_required_parameter");
            case null or JsonValueKind.Null or JsonValueKind.Undefined:
                return [];
            case JsonValueKind.String:
                return [new TextContent(content.Value.GetString())];
            case JsonValueKind.Array:
                var parts = new List<AIContent>();
                var j = 0;
                foreach (var part in content.Value.EnumerateArray())
                {
                    parts.Add(ToContent(part, $"{param}[{j++}]", model, allowed));
                }
                if (parts.Count == 0 && required)
                {
                    throw ApiErrorException.InvalidRequest($"'{param}' must contain at least one content part.", param);
                }
                return parts;
            default:
                throw ApiErrorException.InvalidType(param, "a string or an array of content parts", JsonKinds.Describe(content.Value));
        }
    }

    private static AIContent ToContent(JsonElement part, string param, ServedModel model, ContentKinds allowed)
    {
        if (part.ValueKind != JsonValueKind.Object)
        {
            throw ApiErrorException.InvalidType(param, "a content part object", JsonKinds.Describe(part));
        }
        var type = RequiredString(part, "type", param);
        switch (type)
        {
            case "text" when allowed.HasFlag(ContentKinds.Text):
                return new TextContent(RequiredString(part, "text", param));
            case "refusal" when allowed.HasFlag(ContentKinds.Refusal):
                return new TextContent(RequiredString(part, "refusal", param));
            case "image_url" when allowed.HasFlag(ContentKinds.Image):
                if (!model.AcceptsImages)
                {
                    throw ApiErrorException.InvalidRequest(
                        $"The model '{model.Id}' takes text only; image content is not supported.", param, "unsupported_content");
                }
                return ToImage(part, param);
            default:
                throw ApiErrorException.InvalidRequest(
                    $"Content parts of type '{type}' are not supported in this message.", $"{param}.type", "unsupported_content");
        }
    }

    private static AIContent ToImage(JsonElement part, string param)
    {
        var url = part.TryGetProperty("image_url", out var image) && image.ValueKind == JsonValueKind.Object
            ? RequiredString(image, "url", $"{param}.image_url")
            : throw ApiErrorException.InvalidRequest($"Missing required parameter: '{param}.image_url'.", $"{param}.image_url", "missing_required_parameter");
        return ImageFromUrl(url, $"{param}.image_url.url");
    }

    /// <summary>An image given as a data URI or an http(s) URL.</summary>
    internal static AIContent ImageFromUrl(string url, string param)
    {
        if (url.StartsWith("data:", StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                return new DataContent(url);
            }
            catch (FormatException)
            {
                throw ApiErrorException.InvalidRequest($"'{param}' is not a valid data URI.", param);
            }
        }
        return Uri.TryCreate(url, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttps || uri.Scheme == Uri.UriSchemeHttp)
            ? new UriContent(uri, "image/*")
            : throw ApiErrorException.InvalidRequest($"'{param}' must be an http(s) URL or a data URI.", param);
    }

    internal static string RequiredString(JsonElement obj, string name, string param) =>
        obj.TryGetProperty(name, out var value) switch
        {
            false => throw ApiErrorException.InvalidRequest($"Missing required parameter: '{param}.{name}'.", $"{param}.{name}", "missing_required_parameter"),
            true when value.ValueKind == JsonValueKind.String => value.GetString()!,
            true => throw ApiErrorException.InvalidType($"{param}.{name}", "a string", JsonKinds.Describe(value)),
        };

    private static ChatOptions ToOptions(ChatCompletionRequest request, int maxOutputTokens)
    {
        if (request.N is { } n && n != 1)
        {
            throw n < 1
                ? ApiErrorException.InvalidRequest($"{n} is less than the minimum of 1 - 'n'.", "n")
                : ApiErrorException.InvalidRequest("Only n=1 is supported: this server generates one choice per request.", "n", "unsupported_value");
        }
        if (request.Logprobs == true)
        {
            throw ApiErrorException.InvalidRequest("'logprobs' is not supported by this server.", "logprobs", "unsupported_parameter");
        }
        if (request.TopLogprobs is not null)
        {
            throw ApiErrorException.InvalidRequest("'top_logprobs' is not supported by this server.", "top_logprobs", "unsupported_parameter");
        }

        var maxTokens = AtMost(AtLeastOne(request.MaxTokens, "max_tokens"), maxOutputTokens, "max_tokens");
        var maxCompletionTokens = AtMost(AtLeastOne(request.MaxCompletionTokens, "max_completion_tokens"), maxOutputTokens, "max_completion_tokens");
        var options = new ChatOptions
        {
            // max_completion_tokens is OpenAI's newer name for max_tokens; clients send either.
            MaxOutputTokens = maxCompletionTokens ?? maxTokens,
            Temperature = (float?)InRange(request.Temperature, 0, 2, "temperature"),
            TopP = (float?)InRange(request.TopP, 0, 1, "top_p"),
            PresencePenalty = (float?)InRange(request.PresencePenalty, -2, 2, "presence_penalty"),
            FrequencyPenalty = (float?)InRange(request.FrequencyPenalty, -2, 2, "frequency_penalty"),
            StopSequences = ToStopSequences(request.Stop),
            Seed = request.Seed,
            ResponseFormat = ToResponseFormat(request.ResponseFormat),
            AllowMultipleToolCalls = request.ParallelToolCalls,
        };
        (options.Tools, options.ToolMode) = ToTools(request.Tools, request.ToolChoice);
        if (request.ResponseFormat?.JsonSchema?.Strict == true)
        {
            (options.AdditionalProperties ??= [])[SchemaGrammar.StrictKey] = true;
        }
        if (request.User is not null)
        {
            (options.AdditionalProperties ??= [])["user"] = request.User;
        }
        return options;
    }

    internal static int? AtLeastOne(int? value, string param) =>
        value is < 1 ? throw ApiErrorException.InvalidRequest($"{value} is less than the minimum of 1 - '{param}'.", param) : value;

    internal static int? AtMost(int? value, int ceiling, string param) =>
        value > ceiling
            ? throw ApiErrorException.InvalidRequest($"{value} is greater than the maximum of {ceiling} - '{param}' (this server's LlmStack:MaxOutputTokens).", param)
            : value;

    internal static double? InRange(double? value, double min, double max, string param) =>
        value < min ? throw ApiErrorException.InvalidRequest($"{value} is less than the minimum of {min} - '{param}'.", param)
        : value > max ? throw ApiErrorException.InvalidRequest($"{value} is greater than the maximum of {max} - '{param}'.", param)
        : value;

    private static List<string>? ToStopSequences(JsonElement? stop)
    {
        switch (stop?.ValueKind)
        {
            case null or JsonValueKind.Null or JsonValueKind.Undefined:
                return null;
            case JsonValueKind.String:
                return [NonEmpty(stop.Value, "stop")];
            case JsonValueKind.Array:
                var sequences = new List<string>();
                var i = 0;
                foreach (var item in stop.Value.EnumerateArray())
                {
                    var param = $"stop[{i++}]";
                    sequences.Add(item.ValueKind == JsonValueKind.String
                        ? NonEmpty(item, param)
                        : throw ApiErrorException.InvalidType(param, "a string", JsonKinds.Describe(item)));
                }
                return sequences.Count <= MaxStopSequences
                    ? sequences
                    : throw ApiErrorException.InvalidRequest($"'stop' takes at most {MaxStopSequences} sequences; got {sequences.Count}.", "stop");
            default:
                throw ApiErrorException.InvalidType("stop", "a string or an array of strings", JsonKinds.Describe(stop.Value));
        }

        static string NonEmpty(JsonElement value, string param) =>
            value.GetString() is { Length: > 0 } text ? text : throw ApiErrorException.InvalidRequest($"'{param}' must not be empty.", param);
    }

    private static ChatResponseFormat? ToResponseFormat(ResponseFormat? format) => format?.Type switch
    {
        null when format is null => null,
        null => throw ApiErrorException.InvalidRequest("Missing required parameter: 'response_format.type'.", "response_format.type", "missing_required_parameter"),
        "text" => ChatResponseFormat.Text,
        "json_object" => ChatResponseFormat.Json,
        "json_schema" => format.JsonSchema switch
        {
            null => throw ApiErrorException.InvalidRequest("Missing required parameter: 'response_format.json_schema'.", "response_format.json_schema", "missing_required_parameter"),
            { Name: null or "" } => throw ApiErrorException.InvalidRequest("Missing required parameter: 'response_format.json_schema.name'.", "response_format.json_schema.name", "missing_required_parameter"),
            { Schema: { ValueKind: not JsonValueKind.Object } } => throw ApiErrorException.InvalidRequest("'response_format.json_schema.schema' must be a JSON Schema object.", "response_format.json_schema.schema"),
            var schema => schema.Schema is { } s
                ? ChatResponseFormat.ForJsonSchema(s, schema.Name, schema.Description)
                : ChatResponseFormat.Json,
        },
        var type => throw ApiErrorException.InvalidRequest(
            $"Invalid value for 'response_format.type': '{type}'. Supported values are: 'text', 'json_object' and 'json_schema'.", "response_format.type"),
    };

    private static (List<AITool>? Tools, ChatToolMode? Mode) ToTools(List<ToolDefinition?>? definitions, JsonElement? choice)
    {
        List<AITool>? tools = null;
        for (var i = 0; definitions is not null && i < definitions.Count; i++)
        {
            (tools ??= []).Add(ToTool(definitions[i], $"tools[{i}]"));
        }

        return (tools, ToToolMode(choice, tools, ToolChoiceName));
    }

    /// <summary>
    /// tool_choice as a <see cref="ChatToolMode"/>: <c>none</c>, <c>auto</c>, <c>required</c>, or an object naming one
    /// function (read by <paramref name="functionName"/>, as each API shapes it), which must be among the tools.
    /// </summary>
    internal static ChatToolMode? ToToolMode(JsonElement? choice, List<AITool>? tools, Func<JsonElement, string> functionName)
    {
        ChatToolMode? mode = choice?.ValueKind switch
        {
            null or JsonValueKind.Null or JsonValueKind.Undefined => null,
            JsonValueKind.String => choice.Value.GetString() switch
            {
                "none" => ChatToolMode.None,
                "auto" => ChatToolMode.Auto,
                "required" => ChatToolMode.RequireAny,
                var value => throw ApiErrorException.InvalidRequest(
                    $"Invalid value for 'tool_choice': '{value}'. Supported values are: 'none', 'auto', 'required' or a function.", "tool_choice"),
            },
            JsonValueKind.Object => ChatToolMode.RequireSpecific(functionName(choice.Value)),
            _ => throw ApiErrorException.InvalidType("tool_choice", "a string or an object", JsonKinds.Describe(choice.Value)),
        };

        if (mode is RequiredChatToolMode required && (tools is null || (required.RequiredFunctionName is { } name && !tools.Any(t => t.Name == name))))
        {
            throw ApiErrorException.InvalidRequest(tools is null
                ? "'tool_choice' requires 'tools' to be specified."
                : $"'tool_choice' names the function '{required.RequiredFunctionName}', which is not in 'tools'.", "tool_choice");
        }
        return mode;
    }

    private static string ToolChoiceName(JsonElement choice)
    {
        if (!choice.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String || type.GetString() != "function")
        {
            throw ApiErrorException.InvalidRequest("'tool_choice.type' must be 'function'.", "tool_choice.type");
        }
        return choice.TryGetProperty("function", out var function) && function.ValueKind == JsonValueKind.Object
            ? RequiredString(function, "name", "tool_choice.function")
            : throw ApiErrorException.InvalidRequest("Missing required parameter: 'tool_choice.function'.", "tool_choice.function", "missing_required_parameter");
    }

    private static AITool ToTool(ToolDefinition? tool, string param)
    {
        if (tool is null)
        {
            throw ApiErrorException.InvalidRequest($"'{param}' must be an object.", param);
        }
        if (tool.Type != "function")
        {
            throw ApiErrorException.InvalidRequest($"Invalid value for '{param}.type': '{tool.Type}'. Supported values are: 'function'.", $"{param}.type");
        }
        var function = tool.Function
            ?? throw ApiErrorException.InvalidRequest($"Missing required parameter: '{param}.function'.", $"{param}.function", "missing_required_parameter");
        if (function.Name is null || !FunctionName().IsMatch(function.Name))
        {
            throw ApiErrorException.InvalidRequest(
                $"Invalid '{param}.function.name': it must be 1 to 64 letters, digits, underscores or dashes.", $"{param}.function.name");
        }
        if (function.Parameters is { ValueKind: not (JsonValueKind.Object or JsonValueKind.Null) })
        {
            throw ApiErrorException.InvalidRequest($"'{param}.function.parameters' must be a JSON Schema object.", $"{param}.function.parameters");
        }
        var schema = function.Parameters is { ValueKind: JsonValueKind.Object } parameters ? parameters : EmptyObjectSchema;
        return new ToolDeclaration(function.Name, function.Description, schema, function.Strict == true);
    }


    [GeneratedRegex("^[a-zA-Z0-9_-]{1,64}$")]
    internal static partial Regex FunctionName();
}
