using System.Text.Json;
using LlmStack.Api.Backends;
using LlmStack.Api.Configuration;
using LlmStack.Api.Contracts;
using LlmStack.Api.Endpoints;
using LlmStack.Api.Errors;
using LlmStack.Api.Pipeline;
using Microsoft.Extensions.AI;
using static LlmStack.Api.Endpoints.OpenAIRequestRules;

namespace LlmStack.Api.Responses;

/// <summary>What a valid <c>POST /v1/responses</c> asks of a model.</summary>
/// <param name="Input">This request's input items, normalised (what a continuation stores).</param>
/// <param name="Messages">The whole conversation for the model: instructions, the stored history, the input.</param>
internal sealed record ResponseRequest(
    List<ResponseItem> Input,
    List<ChatMessage> Messages,
    ChatOptions Options,
    bool Stream,
    bool Store);

/// <summary>
/// Reads a <see cref="CreateResponseRequest"/>'s shape into Microsoft.Extensions.AI's terms and the
/// <see cref="GenerationParameters"/> that <see cref="OpenAIRequestRules"/> check, the same as chat completions, so
/// that both endpoints share one call path. Every refusal is a 400 naming the field at fault, including what no
/// backend here can honour (built-in tools, background mode).
/// </summary>
internal static class ResponseRequestMapping
{
    // The Responses API's hosted tools: OpenAI runs them; a server that only relays a model cannot.
    private static readonly HashSet<string> BuiltInTools = new(StringComparer.Ordinal)
    {
        "web_search", "web_search_preview", "web_search_preview_2025_03_11", "file_search", "computer_use_preview",
        "code_interpreter", "image_generation", "mcp", "local_shell", "shell", "apply_patch", "custom",
    };

    public static void Validate(CreateResponseRequest request)
    {
        if (request.Background == true)
        {
            throw ApiErrorException.InvalidRequest("'background' is not supported: responses are generated while the request waits.", "background", "unsupported_parameter");
        }
        if (request.Conversation is { ValueKind: not (JsonValueKind.Null or JsonValueKind.Undefined) })
        {
            throw ApiErrorException.InvalidRequest("'conversation' is not supported: continue a conversation with 'previous_response_id'.", "conversation", "unsupported_parameter");
        }
        if (request.PreviousResponseId is { Length: 0 })
        {
            throw ApiErrorException.InvalidRequest("'previous_response_id' must not be empty.", "previous_response_id");
        }
        OpenAIRequestRules.Metadata(request.Metadata);
    }

    /// <param name="history">The stored conversation of previous_response_id, or none.</param>
    /// <param name="maxOutputTokens">The ceiling on max_output_tokens (<c>LlmStack:MaxOutputTokens</c>).</param>
    public static ResponseRequest ToResponseRequest(this CreateResponseRequest request, ServedModel model, IReadOnlyList<ResponseItem> history, int maxOutputTokens)
    {
        var input = ToItems(request.Input, model);
        var messages = new List<ChatMessage>();
        // Instructions are not carried over from a previous response: each request brings its own.
        if (!string.IsNullOrWhiteSpace(request.Instructions))
        {
            messages.Add(new ChatMessage(ChatRole.System, request.Instructions));
        }
        AddMessages(messages, history);
        AddMessages(messages, input);
        return new ResponseRequest(input, messages, ToOptions(request, maxOutputTokens), request.Stream ?? false, request.Store ?? true);
    }

    private static List<ResponseItem> ToItems(JsonElement? input, ServedModel model)
    {
        switch (input?.ValueKind)
        {
            case null or JsonValueKind.Null or JsonValueKind.Undefined:
                throw ApiErrorException.InvalidRequest("Missing required parameter: 'input'.", "input", "missing_required_parameter");
            case JsonValueKind.String:
                return [UserText(input.Value.GetString()!)];
            case JsonValueKind.Array:
                var items = new List<ResponseItem>();
                var i = 0;
                foreach (var item in input.Value.EnumerateArray())
                {
                    if (ToItem(item, $"input[{i++}]", model) is { } parsed)
                    {
                        items.Add(parsed);
                    }
                }
                return items.Count > 0
                    ? items
                    : throw ApiErrorException.InvalidRequest("'input' must contain at least one item.", "input");
            default:
                throw ApiErrorException.InvalidType("input", "a string or an array of input items", JsonKinds.Describe(input.Value));
        }
    }

    private static ResponseItem UserText(string text) => new()
    {
        Type = ResponseItem.MessageType,
        Role = "user",
        Content = [new ResponseContent { Type = "input_text", Text = text }],
    };

    // Null for an item that carries nothing for the model (a reasoning item sent back).
    private static ResponseItem? ToItem(JsonElement item, string param, ServedModel model)
    {
        if (item.ValueKind != JsonValueKind.Object)
        {
            throw ApiErrorException.InvalidType(param, "an input item object", JsonKinds.Describe(item));
        }
        // A message may leave its type out ({"role": ..., "content": ...}).
        var type = item.TryGetProperty("type", out _) ? RequiredString(item, "type", param) : ResponseItem.MessageType;
        switch (type)
        {
            case ResponseItem.MessageType:
                return ToMessageItem(item, param, model);
            case ResponseItem.FunctionCallType:
                var arguments = RequiredString(item, "arguments", param);
                FunctionArguments.Parse(arguments, $"{param}.arguments");
                return new ResponseItem
                {
                    Type = type,
                    CallId = NonEmptyString(item, "call_id", param),
                    Name = NonEmptyString(item, "name", param),
                    Arguments = arguments,
                };
            case ResponseItem.FunctionCallOutputType:
                return new ResponseItem { Type = type, CallId = NonEmptyString(item, "call_id", param), Output = OutputText(item, param) };
            case ResponseItem.ReasoningType:
                // Clients send reasoning items back with the output they came with; the model does not read them.
                return null;
            case "item_reference":
                throw ApiErrorException.InvalidRequest(
                    $"'{param}': item references are not supported; send the item itself or use 'previous_response_id'.", $"{param}.type", "unsupported_value");
            default:
                throw ApiErrorException.InvalidRequest(
                    $"Invalid value for '{param}.type': '{type}'. Supported values are: 'message', 'function_call', 'function_call_output' and 'reasoning'.",
                    $"{param}.type");
        }
    }

    private static ResponseItem ToMessageItem(JsonElement item, string param, ServedModel model)
    {
        var role = RequiredString(item, "role", param);
        if (role is not ("user" or "system" or "developer" or "assistant"))
        {
            throw ApiErrorException.InvalidRequest(
                $"Invalid value for '{param}.role': '{role}'. Supported values are: 'user', 'system', 'developer' and 'assistant'.", $"{param}.role");
        }
        if (!item.TryGetProperty("content", out var content))
        {
            throw ApiErrorException.InvalidRequest($"Missing required parameter: '{param}.content'.", $"{param}.content", "missing_required_parameter");
        }
        var textType = role == "assistant" ? ResponseContent.OutputTextType : "input_text";
        List<ResponseContent> parts;
        if (content.ValueKind == JsonValueKind.String)
        {
            parts = [new ResponseContent { Type = textType, Text = content.GetString() }];
        }
        else if (content.ValueKind == JsonValueKind.Array)
        {
            parts = [];
            var j = 0;
            foreach (var part in content.EnumerateArray())
            {
                parts.Add(ToContentPart(part, $"{param}.content[{j++}]", role, model));
            }
        }
        else
        {
            throw ApiErrorException.InvalidType($"{param}.content", "a string or an array of content parts", JsonKinds.Describe(content));
        }
        return new ResponseItem { Type = ResponseItem.MessageType, Role = role, Content = parts };
    }

    private static ResponseContent ToContentPart(JsonElement part, string param, string role, ServedModel model)
    {
        if (part.ValueKind != JsonValueKind.Object)
        {
            throw ApiErrorException.InvalidType(param, "a content part object", JsonKinds.Describe(part));
        }
        var type = RequiredString(part, "type", param);
        switch (type)
        {
            case "input_text" or "output_text" or "text":
                return new ResponseContent { Type = role == "assistant" ? ResponseContent.OutputTextType : "input_text", Text = RequiredString(part, "text", param) };
            case "refusal" when role == "assistant":
                return new ResponseContent { Type = ResponseContent.OutputTextType, Text = RequiredString(part, "refusal", param) };
            case "input_image" when role == "user":
                RequireImages(model, param);
                var url = RequiredString(part, "image_url", param);
                ImageFromUrl(url, $"{param}.image_url");
                return new ResponseContent { Type = type, ImageUrl = url };
            default:
                throw ApiErrorException.InvalidRequest(
                    $"Content parts of type '{type}' are not supported in this message.", $"{param}.type", "unsupported_content");
        }
    }

    // A function's result: a string, or content parts whose text is joined.
    private static string OutputText(JsonElement item, string param)
    {
        if (!item.TryGetProperty("output", out var output))
        {
            throw ApiErrorException.InvalidRequest($"Missing required parameter: '{param}.output'.", $"{param}.output", "missing_required_parameter");
        }
        return output.ValueKind switch
        {
            JsonValueKind.String => output.GetString()!,
            JsonValueKind.Array => string.Concat(output.EnumerateArray().Select((part, j) => part.ValueKind == JsonValueKind.Object
                ? RequiredString(part, "text", $"{param}.output[{j}]")
                : throw ApiErrorException.InvalidType($"{param}.output[{j}]", "a content part object", JsonKinds.Describe(part)))),
            _ => throw ApiErrorException.InvalidType($"{param}.output", "a string or an array of content parts", JsonKinds.Describe(output)),
        };
    }

    /// <summary>Conversation items as messages: consecutive function calls join the assistant turn before them.</summary>
    private static void AddMessages(List<ChatMessage> messages, IEnumerable<ResponseItem> items)
    {
        foreach (var item in items)
        {
            switch (item.Type)
            {
                case ResponseItem.MessageType:
                    var role = item.Role switch
                    {
                        "assistant" => ChatRole.Assistant,
                        "system" or "developer" => ChatRole.System,
                        _ => ChatRole.User,
                    };
                    messages.Add(new ChatMessage(role, [.. (item.Content ?? []).Select(ToContent)]));
                    break;
                case ResponseItem.FunctionCallType when item.Status == "incomplete":
                    // A call cut off while its arguments streamed (its block's text follows it as a message): no call
                    // was made, and its arguments may not be JSON.
                    break;
                case ResponseItem.FunctionCallType:
                    var call = new FunctionCallContent(item.CallId!, item.Name!, FunctionArguments.Parse(item.Arguments, "arguments"));
                    if (messages.Count > 0 && messages[^1].Role == ChatRole.Assistant)
                    {
                        messages[^1].Contents.Add(call);
                    }
                    else
                    {
                        messages.Add(new ChatMessage(ChatRole.Assistant, [call]));
                    }
                    break;
                case ResponseItem.FunctionCallOutputType:
                    messages.Add(new ChatMessage(ChatRole.Tool, [new FunctionResultContent(item.CallId!, item.Output)]));
                    break;
            }
        }
    }

    private static AIContent ToContent(ResponseContent part) =>
        part.ImageUrl is { } url ? ImageFromUrl(url, "image_url") : new TextContent(part.Text);

    private static ChatOptions ToOptions(CreateResponseRequest request, int maxOutputTokens) =>
        OpenAIRequestRules.ToChatOptions(GenerationParameters.From(request, "max_output_tokens", request.MaxOutputTokens) with
        {
            Format = request.Text?.Format is { } format ? new ResponseFormatRequest(
                Param: "text.format",
                Type: format.Type,
                Name: format.Name,
                NameParam: "text.format.name",
                Description: format.Description,
                Schema: format.Schema,
                SchemaParam: "text.format.schema",
                Strict: format.Strict == true,
                SchemaRequired: true) : null,
            Tools = request.Tools?.Select((tool, i) => ToTool(tool, $"tools[{i}]")).ToList(),
            ToolChoice = request.ToolChoice,
            ToolChoiceFunction = ToolChoiceName,
            ParallelToolCalls = request.ParallelToolCalls,
        }, maxOutputTokens);

    private static string ToolChoiceName(JsonElement choice)
    {
        var type = RequiredString(choice, "type", "tool_choice");
        return type == "function"
            ? RequiredString(choice, "name", "tool_choice")
            : throw ApiErrorException.InvalidRequest(
                $"'tool_choice' of type '{type}' is not supported: this server offers function tools only.", "tool_choice.type", "unsupported_value");
    }

    // Function tools are flat here: {"type":"function","name":...,"parameters":...,"strict":...}.
    private static FunctionToolRequest ToTool(JsonElement tool, string param)
    {
        if (tool.ValueKind != JsonValueKind.Object)
        {
            throw ApiErrorException.InvalidRequest($"'{param}' must be an object.", param);
        }
        var type = RequiredString(tool, "type", param);
        if (type != "function")
        {
            throw BuiltInTools.Contains(type)
                ? ApiErrorException.InvalidRequest(
                    $"The built-in tool '{type}' is not supported: this server runs models only and offers function tools, which the client executes.",
                    $"{param}.type", "unsupported_tool")
                : ApiErrorException.InvalidRequest($"Invalid value for '{param}.type': '{type}'. Supported values are: 'function'.", $"{param}.type");
        }
        var description = tool.TryGetProperty("description", out var d) && d.ValueKind == JsonValueKind.String ? d.GetString() : null;
        JsonElement? parameters = tool.TryGetProperty("parameters", out var p) ? p : null;
        // The Responses API makes function schemas strict unless the tool says otherwise.
        var strict = !tool.TryGetProperty("strict", out var s) || s.ValueKind != JsonValueKind.False;
        return new FunctionToolRequest(param, RequiredString(tool, "name", param), description, parameters, strict);
    }
}
