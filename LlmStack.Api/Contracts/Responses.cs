using System.Text.Json;
using System.Text.Json.Serialization;

namespace LlmStack.Api.Contracts;

// The Responses API (POST /v1/responses) as OpenAI defines it. Fields that take several JSON shapes (input,
// tools, tool_choice) stay JsonElement here and are checked where they are mapped, so that a wrong shape is a
// 400 naming its exact path (input[2].content[0].text).

internal sealed record CreateResponseRequest : ISamplingRequest
{
    public string? Model { get; init; }

    /// <summary>A string (one user message) or a list of input items.</summary>
    public JsonElement? Input { get; init; }

    public string? Instructions { get; init; }

    public int? MaxOutputTokens { get; init; }

    public double? Temperature { get; init; }

    public double? TopP { get; init; }

    public List<JsonElement>? Tools { get; init; }

    public JsonElement? ToolChoice { get; init; }

    public bool? ParallelToolCalls { get; init; }

    public ResponseTextOptions? Text { get; init; }

    public bool? Stream { get; init; }

    /// <summary>Keep the response for GET and previous_response_id (the default).</summary>
    public bool? Store { get; init; }

    public string? PreviousResponseId { get; init; }

    public Dictionary<string, string>? Metadata { get; init; }

    public string? User { get; init; }

    /// <summary>Refused when true: responses run while the client waits.</summary>
    public bool? Background { get; init; }

    /// <summary>Not supported: conversations are continued with previous_response_id.</summary>
    public JsonElement? Conversation { get; init; }
}

internal sealed record ResponseTextOptions
{
    public ResponseTextFormat? Format { get; init; }
}

/// <summary><c>text</c>, <c>json_object</c>, or <c>json_schema</c> with its name, schema and strict flag beside the type.</summary>
internal sealed record ResponseTextFormat
{
    public string? Type { get; init; }

    public string? Name { get; init; }

    public string? Description { get; init; }

    public JsonElement? Schema { get; init; }

    public bool? Strict { get; init; }
}

/// <summary>The <c>"object": "response"</c> a create returns, GET reads and the stream's events carry.</summary>
internal sealed record ResponseObject
{
    /// <summary><c>"auto"</c>: what a response says of tool_choice when the request did not.</summary>
    public static readonly JsonElement AutoToolChoice = JsonDocument.Parse("\"auto\"").RootElement;

    public required string Id { get; init; }

    public string Object => "response";

    public required long CreatedAt { get; init; }

    /// <summary><c>in_progress</c>, <c>completed</c>, <c>incomplete</c> or <c>failed</c>.</summary>
    public required string Status { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public ResponseError? Error { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public IncompleteDetails? IncompleteDetails { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public string? Instructions { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public int? MaxOutputTokens { get; init; }

    public required string Model { get; init; }

    public required List<ResponseItem> Output { get; init; }

    /// <summary>The text of every output message joined, as the SDKs' <c>output_text</c> convenience reads it.</summary>
    public string OutputText => string.Concat(Output.Where(i => i.Type == ResponseItem.MessageType)
        .SelectMany(i => i.Content ?? []).Where(c => c.Type == ResponseContent.OutputTextType).Select(c => c.Text));

    public bool ParallelToolCalls { get; init; } = true;

    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public string? PreviousResponseId { get; init; }

    public ResponseReasoning Reasoning { get; init; } = new();

    public bool Store { get; init; } = true;

    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public double? Temperature { get; init; }

    public ResponseTextOptions Text { get; init; } = new() { Format = new ResponseTextFormat { Type = "text" } };

    public JsonElement ToolChoice { get; init; } = AutoToolChoice;

    public List<JsonElement> Tools { get; init; } = [];

    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public double? TopP { get; init; }

    public string Truncation => "disabled";

    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public ResponseUsage? Usage { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public string? User { get; init; }

    public Dictionary<string, string> Metadata { get; init; } = [];
}

internal sealed record ResponseReasoning
{
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public string? Effort { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public string? Summary { get; init; }
}

/// <summary>
/// One item of a conversation: a <c>message</c>, a <c>function_call</c>, a <c>function_call_output</c> or a
/// <c>reasoning</c> item. Output items and stored conversations use the same shape.
/// </summary>
internal sealed record ResponseItem
{
    public const string MessageType = "message";
    public const string FunctionCallType = "function_call";
    public const string FunctionCallOutputType = "function_call_output";
    public const string ReasoningType = "reasoning";

    public required string Type { get; init; }

    public string? Id { get; init; }

    public string? Status { get; init; }

    public string? Role { get; init; }

    public List<ResponseContent>? Content { get; init; }

    /// <summary>A reasoning item's summary parts (none: the reasoning text is in <see cref="Content"/>).</summary>
    public List<ResponseContent>? Summary { get; init; }

    public string? CallId { get; init; }

    public string? Name { get; init; }

    public string? Arguments { get; init; }

    /// <summary>A function_call_output's result.</summary>
    public string? Output { get; init; }
}

/// <summary>A content part: <c>input_text</c>, <c>input_image</c>, <c>output_text</c>, <c>refusal</c> or <c>reasoning_text</c>.</summary>
internal sealed record ResponseContent
{
    public const string OutputTextType = "output_text";
    public const string ReasoningTextType = "reasoning_text";

    public required string Type { get; init; }

    public string? Text { get; init; }

    public string? ImageUrl { get; init; }

    /// <summary>Present (empty) on output_text parts, as OpenAI sends them.</summary>
    public List<JsonElement>? Annotations { get; init; }
}

internal sealed record ResponseUsage
{
    public int InputTokens { get; init; }

    public InputTokensDetails InputTokensDetails { get; init; } = new();

    public int OutputTokens { get; init; }

    public OutputTokensDetails OutputTokensDetails { get; init; } = new();

    public int TotalTokens { get; init; }
}

internal sealed record InputTokensDetails
{
    public int CachedTokens { get; init; }
}

internal sealed record OutputTokensDetails
{
    public int ReasoningTokens { get; init; }
}

internal sealed record ResponseError(string Code, string Message);

/// <summary>Why a response is incomplete: <c>max_output_tokens</c> or <c>content_filter</c>.</summary>
internal sealed record IncompleteDetails(string Reason);

/// <summary>
/// One server-sent event of a streamed response (<c>event: {Type}</c>, <c>data: {this}</c>); only the fields
/// of its type are set.
/// </summary>
internal sealed record ResponseStreamEvent
{
    public required string Type { get; init; }

    public int SequenceNumber { get; set; }

    public ResponseObject? Response { get; init; }

    public string? ItemId { get; init; }

    public int? OutputIndex { get; init; }

    public int? ContentIndex { get; init; }

    public ResponseItem? Item { get; init; }

    public ResponseContent? Part { get; init; }

    public string? Delta { get; init; }

    public string? Text { get; init; }

    public string? Arguments { get; init; }

    /// <summary>Empty on text events: log probabilities are not produced.</summary>
    public List<JsonElement>? Logprobs { get; init; }
}

/// <summary>What DELETE /v1/responses/{id} answers.</summary>
internal sealed record ResponseDeleted(string Id)
{
    public string Object => "response";

    public bool Deleted => true;
}

/// <summary>
/// A stored response and the conversation up to and including it, for GET and previous_response_id, with the name of
/// the API key that created it (<paramref name="Owner"/>; null on an open API): only that key can read, continue or delete it.
/// </summary>
internal sealed record StoredResponse(ResponseObject Response, List<ResponseItem> Conversation, string? Owner = null);
