using System.Text.Json;
using LlmStack.Api.Backends;
using LlmStack.Api.Contracts;
using LlmStack.Api.Endpoints;
using LlmStack.Api.Errors;
using LlmStack.Api.Pipeline;
using Microsoft.Extensions.AI;
using static LlmStack.Api.Endpoints.OpenAIRequestRules;

namespace LlmStack.Api.ChatCompletions;

/// <summary>
/// Reads a <see cref="ChatCompletionRequest"/>'s shape into <see cref="ChatMessage"/>s and the
/// <see cref="GenerationParameters"/> that <see cref="OpenAIRequestRules"/> check. Every refusal is a 400 naming the
/// field at fault, including values the backends cannot honour (n &gt; 1, logprobs, images for a text-only model):
/// never silently ignored.
/// </summary>
internal static class ChatRequestMapping
{
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
        mapped.AuthorName = OpenAIRequestRules.ParticipantName(message.Name, $"{param}.name");
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
        return new FunctionCallContent(call.Id, call.Function.Name, FunctionArguments.Parse(call.Function.Arguments, $"{param}.function.arguments"));
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
                return ToImage(part, param, model);
            default:
                throw ApiErrorException.InvalidRequest(
                    $"Content parts of type '{type}' are not supported in this message.", $"{param}.type", "unsupported_content");
        }
    }

    private static AIContent ToImage(JsonElement part, string param, ServedModel model)
    {
        RequireImages(model, param);
        var url = part.TryGetProperty("image_url", out var image) && image.ValueKind == JsonValueKind.Object
            ? RequiredString(image, "url", $"{param}.image_url")
            : throw ApiErrorException.InvalidRequest($"Missing required parameter: '{param}.image_url'.", $"{param}.image_url", "missing_required_parameter");
        return ImageFromUrl(url, $"{param}.image_url.url");
    }

    private static ChatOptions ToOptions(ChatCompletionRequest request, int maxOutputTokens)
    {
        // max_completion_tokens is OpenAI's newer name for max_tokens; clients send either, and both are checked.
        OpenAIRequestRules.MaxTokens(request.MaxTokens, "max_tokens", maxOutputTokens);
        var newName = request.MaxCompletionTokens is not null;
        return OpenAIRequestRules.ToChatOptions(GenerationParameters.From(
            request, newName ? "max_completion_tokens" : "max_tokens", newName ? request.MaxCompletionTokens : request.MaxTokens) with
        {
            Format = ToFormat(request.ResponseFormat),
            Tools = request.Tools?.Select((tool, i) => ToTool(tool, $"tools[{i}]")).ToList(),
            ToolChoice = request.ToolChoice,
            ToolChoiceFunction = ToolChoiceName,
            ParallelToolCalls = request.ParallelToolCalls,
            Choices = request.N,
            LogprobsParam = request.Logprobs == true ? "logprobs" : request.TopLogprobs is not null ? "top_logprobs" : null,
        }, maxOutputTokens);
    }

    private static ResponseFormatRequest? ToFormat(ResponseFormat? format)
    {
        if (format is { Type: "json_schema", JsonSchema: null })
        {
            throw ApiErrorException.InvalidRequest("Missing required parameter: 'response_format.json_schema'.", "response_format.json_schema", "missing_required_parameter");
        }
        // The schema itself is optional here: a json_schema format without one is JSON mode.
        return format is null ? null : new ResponseFormatRequest(
            Param: "response_format",
            Type: format.Type,
            Name: format.JsonSchema?.Name,
            NameParam: "response_format.json_schema.name",
            Description: format.JsonSchema?.Description,
            Schema: format.JsonSchema?.Schema,
            SchemaParam: "response_format.json_schema.schema",
            Strict: format.JsonSchema?.Strict == true,
            SchemaRequired: false);
    }

    private static FunctionToolRequest ToTool(ToolDefinition? tool, string param)
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
        return new FunctionToolRequest($"{param}.function", function.Name, function.Description, function.Parameters, function.Strict == true);
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
}
