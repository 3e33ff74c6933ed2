using System.Text.Json;
using System.Text.RegularExpressions;
using LlmStack.Api.Backends;
using LlmStack.Api.Contracts;
using LlmStack.Api.Errors;
using Microsoft.Extensions.AI;

namespace LlmStack.Api.Endpoints;

/// <summary>
/// What an OpenAI generation request asks of the model beside its prompt, as its endpoint names it on the wire:
/// every endpoint (chat completions, Responses, completions) reads its own shape into this and
/// <see cref="OpenAIRequestRules.ToChatOptions"/> checks it, so each rule is written once.
/// </summary>
internal sealed record GenerationParameters
{
    /// <summary>
    /// The sampling fields every endpoint names alike (<see cref="ISamplingRequest"/>) and its output-token limit;
    /// the endpoint adds what only it has (formats, tools) with <c>with</c>.
    /// </summary>
    /// <param name="maxTokensParam">The endpoint's name of the limit, for errors.</param>
    public static GenerationParameters From(ISamplingRequest request, string maxTokensParam, int? maxTokens) => new()
    {
        MaxTokensParam = maxTokensParam,
        MaxTokens = maxTokens,
        Temperature = request.Temperature,
        TopP = request.TopP,
        PresencePenalty = request.PresencePenalty,
        FrequencyPenalty = request.FrequencyPenalty,
        Stop = request.Stop,
        Seed = request.Seed,
        User = request.User,
    };

    /// <summary>The endpoint's name of the output-token limit (<c>max_tokens</c>, <c>max_output_tokens</c>), for errors.</summary>
    public required string MaxTokensParam { get; init; }

    public int? MaxTokens { get; init; }

    public double? Temperature { get; init; }

    public double? TopP { get; init; }

    public double? PresencePenalty { get; init; }

    public double? FrequencyPenalty { get; init; }

    /// <summary>A string or an array of strings.</summary>
    public JsonElement? Stop { get; init; }

    public long? Seed { get; init; }

    public ResponseFormatRequest? Format { get; init; }

    public IReadOnlyList<FunctionToolRequest>? Tools { get; init; }

    public JsonElement? ToolChoice { get; init; }

    /// <summary>How this endpoint names the function of an object <c>tool_choice</c>.</summary>
    public Func<JsonElement, string>? ToolChoiceFunction { get; init; }

    public bool? ParallelToolCalls { get; init; }

    public string? User { get; init; }

    /// <summary>How many choices to generate (chat's and completions' <c>n</c>).</summary>
    public int? Choices { get; init; }

    /// <summary>Log probabilities asked for: how many alternatives per token (checked by the endpoint); null when not asked.</summary>
    public int? TopLogprobs { get; init; }
}

/// <summary>A structured-output request (<c>response_format</c>, <c>text.format</c>) read from its endpoint's shape.</summary>
/// <param name="Param">Where it sits in the request, for errors: <c>response_format</c>, <c>text.format</c>.</param>
/// <param name="SchemaParam">Where its schema sits: <c>response_format.json_schema.schema</c>, <c>text.format.schema</c>.</param>
/// <param name="SchemaRequired">Whether a <c>json_schema</c> format must carry a schema (Responses); chat takes one without as JSON mode.</param>
internal sealed record ResponseFormatRequest(
    string Param, string? Type, string? Name, string NameParam, string? Description, JsonElement? Schema, string SchemaParam, bool Strict, bool SchemaRequired);

/// <summary>A function tool read from its endpoint's shape.</summary>
/// <param name="Param">Where the function's fields sit, for errors: <c>tools[0].function</c>, <c>tools[0]</c>.</param>
internal sealed record FunctionToolRequest(string Param, string? Name, string? Description, JsonElement? Parameters, bool Strict);

/// <summary>
/// The request rules of every OpenAI endpoint, written once: value ranges, limits, stop sequences, structured output,
/// tools and tool choice, content parts the model can take. Every refusal is a 400 naming the field at fault - never a
/// silently ignored value.
/// </summary>
internal static partial class OpenAIRequestRules
{
    /// <summary>OpenAI's limit on stop sequences.</summary>
    public const int MaxStopSequences = 4;

    /// <summary>The longest stop sequence, in characters: a stream holds back up to that much text while it may be the start of one.</summary>
    public const int MaxStopLength = 256;

    /// <summary>OpenAI's limit on the tools of one request.</summary>
    public const int MaxTools = 128;

    /// <summary>OpenAI's limits on <c>metadata</c>: 16 pairs, keys of at most 64 characters, values of at most 512.</summary>
    public const int MaxMetadataPairs = 16;

    public const int MaxMetadataKeyLength = 64;

    public const int MaxMetadataValueLength = 512;

    /// <summary>The longest participant name (<c>messages[].name</c>), as OpenAI: 1 to 64 characters, no whitespace or <c>&lt;|\/&gt;</c>.</summary>
    public const int MaxNameLength = 64;

    /// <summary>The longest <c>user</c> (the end user's identifier, written to the request log).</summary>
    public const int MaxUserLength = 256;

    internal static readonly JsonElement EmptyObjectSchema = JsonDocument.Parse("""{"type":"object","properties":{}}""").RootElement;

    /// <param name="maxOutputTokens">The ceiling on the output-token limit (<c>LlmStack:MaxOutputTokens</c>).</param>
    public static ChatOptions ToChatOptions(GenerationParameters request, int maxOutputTokens)
    {
        var choices = InRange(request.Choices, 1, LlmStackChatOptions.MaxChoices, "n") ?? 1;
        var options = new ChatOptions
        {
            MaxOutputTokens = MaxTokens(request.MaxTokens, request.MaxTokensParam, maxOutputTokens),
            Temperature = (float?)InRange(request.Temperature, 0, 2, "temperature"),
            TopP = (float?)InRange(request.TopP, 0, 1, "top_p"),
            PresencePenalty = (float?)InRange(request.PresencePenalty, -2, 2, "presence_penalty"),
            FrequencyPenalty = (float?)InRange(request.FrequencyPenalty, -2, 2, "frequency_penalty"),
            StopSequences = StopSequences(request.Stop),
            Seed = request.Seed,
            ResponseFormat = ToResponseFormat(request.Format),
            AllowMultipleToolCalls = request.ParallelToolCalls,
        };
        if (request.Tools is { Count: > MaxTools })
        {
            throw ApiErrorException.InvalidRequest($"'tools' takes at most {MaxTools} tools; got {request.Tools.Count}.", "tools");
        }
        List<AITool>? tools = request.Tools is { Count: > 0 } declared ? [.. declared.Select(ToTool)] : null;
        options.Tools = tools;
        options.ToolMode = ToToolMode(request.ToolChoice, tools, request.ToolChoiceFunction);
        if (request.Format is { Type: "json_schema", Strict: true })
        {
            LlmStackChatOptions.SetStrict(options);
        }
        if (request.Format is { Type: "json_schema" } format)
        {
            LlmStackChatOptions.SetSchemaParam(options, format.SchemaParam);
        }
        if (request.User is not null)
        {
            LlmStackChatOptions.SetUser(options, request.User.Length <= MaxUserLength
                ? request.User
                : throw ApiErrorException.InvalidRequest($"'user' must be at most {MaxUserLength} characters; got {request.User.Length}.", "user"));
        }
        if (request.TopLogprobs is { } top)
        {
            LlmStackChatOptions.SetLogprobs(options, top);
        }
        if (choices > 1)
        {
            LlmStackChatOptions.SetChoices(options, choices);
        }
        return options;
    }

    /// <summary><c>metadata</c> within OpenAI's limits (<see cref="MaxMetadataPairs"/> pairs, keys and values bounded).</summary>
    public static void Metadata(IReadOnlyDictionary<string, string>? metadata, string param = "metadata")
    {
        if (metadata is null)
        {
            return;
        }
        if (metadata.Count > MaxMetadataPairs)
        {
            throw ApiErrorException.InvalidRequest($"'{param}' takes at most {MaxMetadataPairs} keys; got {metadata.Count}.", param);
        }
        foreach (var (key, value) in metadata)
        {
            if (key.Length is 0 or > MaxMetadataKeyLength)
            {
                throw ApiErrorException.InvalidRequest(
                    $"Each key of '{param}' must be 1 to {MaxMetadataKeyLength} characters; one has {key.Length}.", param);
            }
            if (value.Length > MaxMetadataValueLength)
            {
                throw ApiErrorException.InvalidRequest(
                    $"Each value of '{param}' must be at most {MaxMetadataValueLength} characters; '{key}' has {value.Length}.", RequestParam.Member(param, key));
            }
        }
    }

    /// <summary>A participant name (<c>messages[].name</c>): absent, or as OpenAI takes it (<see cref="MaxNameLength"/>).</summary>
    public static string? ParticipantName(string? name, string param) =>
        name is null || ParticipantNamePattern().IsMatch(name)
            ? name
            : throw ApiErrorException.InvalidRequest(
                $"Invalid '{param}': it must be 1 to {MaxNameLength} characters without whitespace or any of < | \\ / >.", param);

    /// <summary>An output-token limit: at least 1, at most <paramref name="ceiling"/> (<c>LlmStack:MaxOutputTokens</c>).</summary>
    public static int? MaxTokens(int? value, string param, int ceiling) =>
        value is < 1 ? throw ApiErrorException.InvalidRequest($"{value} is less than the minimum of 1 - '{param}'.", param)
        : value > ceiling ? throw ApiErrorException.InvalidRequest($"{value} is greater than the maximum of {ceiling} - '{param}' (this server's LlmStack:MaxOutputTokens).", param)
        : value;

    public static int? InRange(int? value, int min, int max, string param) => (int?)InRange((double?)value, min, max, param);

    public static double? InRange(double? value, double min, double max, string param) =>
        value < min ? throw ApiErrorException.InvalidRequest($"{value} is less than the minimum of {min} - '{param}'.", param)
        : value > max ? throw ApiErrorException.InvalidRequest($"{value} is greater than the maximum of {max} - '{param}'.", param)
        : value;

    private static List<string>? StopSequences(JsonElement? stop)
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
            value.GetString() switch
            {
                null or "" => throw ApiErrorException.InvalidRequest($"'{param}' must not be empty.", param),
                { Length: > MaxStopLength } tooLong => throw ApiErrorException.InvalidRequest(
                    $"'{param}' must be at most {MaxStopLength} characters; got {tooLong.Length}.", param),
                var text => text,
            };
    }

    private static ChatResponseFormat? ToResponseFormat(ResponseFormatRequest? format) => format?.Type switch
    {
        null when format is null => null,
        null => throw ApiErrorException.InvalidRequest($"Missing required parameter: '{format.Param}.type'.", $"{format.Param}.type", "missing_required_parameter"),
        "text" => ChatResponseFormat.Text,
        "json_object" => ChatResponseFormat.Json,
        "json_schema" => format switch
        {
            { Name: null or "" } => throw ApiErrorException.InvalidRequest(
                $"Missing required parameter: '{format.NameParam}'.", format.NameParam, "missing_required_parameter"),
            { Name: var name } when !FunctionName().IsMatch(name) => throw ApiErrorException.InvalidRequest(
                $"Invalid '{format.NameParam}': it must be 1 to 64 letters, digits, underscores or dashes.", format.NameParam),
            { Schema: null or { ValueKind: JsonValueKind.Null or JsonValueKind.Undefined }, SchemaRequired: true } => throw ApiErrorException.InvalidRequest(
                $"Missing required parameter: '{format.SchemaParam}'.", format.SchemaParam, "missing_required_parameter"),
            { Schema: null or { ValueKind: JsonValueKind.Null or JsonValueKind.Undefined } } => ChatResponseFormat.Json,
            { Schema.ValueKind: not JsonValueKind.Object } => throw ApiErrorException.InvalidRequest(
                $"'{format.SchemaParam}' must be a JSON Schema object.", format.SchemaParam),
            _ => ChatResponseFormat.ForJsonSchema(Bounded(format.Schema.Value, format.SchemaParam), format.Name, format.Description),
        },
        var type => throw ApiErrorException.InvalidRequest(
            $"Invalid value for '{format.Param}.type': '{type}'. Supported values are: 'text', 'json_object' and 'json_schema'.", $"{format.Param}.type"),
    };

    private static AITool ToTool(FunctionToolRequest tool)
    {
        if (tool.Name is null || !FunctionName().IsMatch(tool.Name))
        {
            throw ApiErrorException.InvalidRequest(
                $"Invalid '{tool.Param}.name': it must be 1 to 64 letters, digits, underscores or dashes.", $"{tool.Param}.name");
        }
        if (tool.Parameters is { ValueKind: not (JsonValueKind.Object or JsonValueKind.Null or JsonValueKind.Undefined) })
        {
            throw ApiErrorException.InvalidRequest($"'{tool.Param}.parameters' must be a JSON Schema object.", $"{tool.Param}.parameters");
        }
        var schema = tool.Parameters is { ValueKind: JsonValueKind.Object } parameters ? Bounded(parameters, $"{tool.Param}.parameters").Clone() : EmptyObjectSchema;
        return new ToolDeclaration(tool.Name, tool.Description, schema, tool.Strict, $"{tool.Param}.parameters");
    }

    // Every schema is bounded before a backend sees it (JsonSchemaBounds), strict or not.
    private static JsonElement Bounded(JsonElement schema, string param)
    {
        JsonSchemaBounds.Check(schema, param);
        return schema;
    }

    /// <summary>
    /// tool_choice as a <see cref="ChatToolMode"/>: <c>none</c>, <c>auto</c>, <c>required</c>, or an object naming one
    /// function (read by <paramref name="functionName"/>, as each endpoint shapes it), which must be among the tools.
    /// </summary>
    private static ChatToolMode? ToToolMode(JsonElement? choice, List<AITool>? tools, Func<JsonElement, string>? functionName)
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
            JsonValueKind.Object when functionName is not null => ChatToolMode.RequireSpecific(functionName(choice.Value)),
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

    /// <summary>An image part (at <paramref name="param"/>) is only for a model that takes images: 400 for a text-only one.</summary>
    public static void RequireImages(ServedModel model, string param)
    {
        if (!model.AcceptsImages)
        {
            throw ApiErrorException.InvalidRequest($"The model '{model.Id}' takes text only; image content is not supported.", param, "unsupported_content");
        }
    }

    /// <summary>An image given as a data URI or an http(s) URL.</summary>
    public static AIContent ImageFromUrl(string url, string param)
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

    /// <summary>A string field of <paramref name="obj"/> that must be there.</summary>
    public static string RequiredString(JsonElement obj, string name, string param) =>
        obj.TryGetProperty(name, out var value) switch
        {
            false => throw ApiErrorException.InvalidRequest($"Missing required parameter: '{param}.{name}'.", $"{param}.{name}", "missing_required_parameter"),
            true when value.ValueKind == JsonValueKind.String => value.GetString()!,
            true => throw ApiErrorException.InvalidType($"{param}.{name}", "a string", JsonKinds.Describe(value)),
        };

    /// <summary>A string field of <paramref name="obj"/> that must be there and not be empty.</summary>
    public static string NonEmptyString(JsonElement obj, string name, string param) =>
        RequiredString(obj, name, param) is { Length: > 0 } value
            ? value
            : throw ApiErrorException.InvalidRequest($"'{param}.{name}' must not be empty.", $"{param}.{name}");

    [GeneratedRegex("^[a-zA-Z0-9_-]{1,64}$")]
    private static partial Regex FunctionName();

    [GeneratedRegex("^[^\\s<|\\\\/>]{1,64}$")]
    private static partial Regex ParticipantNamePattern();
}
