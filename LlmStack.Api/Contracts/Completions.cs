using System.Text.Json;
using System.Text.Json.Serialization;

namespace LlmStack.Api.Contracts;

// POST /v1/completions (OpenAI's legacy text completions) as OpenAI defines it. The prompt takes several JSON
// shapes and stays a JsonElement here, checked where it is mapped (a 400 naming prompt[1]).

internal sealed record CompletionRequest : ISamplingRequest
{
    public string? Model { get; init; }

    /// <summary>A string or an array of strings (token arrays are refused).</summary>
    public JsonElement? Prompt { get; init; }

    /// <summary>Text after the completion (fill-in-the-middle).</summary>
    public string? Suffix { get; init; }

    public int? MaxTokens { get; init; }

    public double? Temperature { get; init; }

    public double? TopP { get; init; }

    public int? N { get; init; }

    public bool? Stream { get; init; }

    public StreamOptions? StreamOptions { get; init; }

    /// <summary>How many of the most likely tokens to list at each position (0-5); absent: no log probabilities.</summary>
    public int? Logprobs { get; init; }

    /// <summary>Write the prompt before the completion.</summary>
    public bool? Echo { get; init; }

    public JsonElement? Stop { get; init; }

    public double? PresencePenalty { get; init; }

    public double? FrequencyPenalty { get; init; }

    /// <summary>Refused unless it equals n: the server generates each choice it returns, no more.</summary>
    public int? BestOf { get; init; }

    public long? Seed { get; init; }

    public string? User { get; init; }
}

/// <summary>The non-streaming answer, and each chunk of a stream: <c>"object": "text_completion"</c> (OpenAI names both so).</summary>
internal sealed record TextCompletion
{
    public required string Id { get; init; }

    public string Object => "text_completion";

    public required long Created { get; init; }

    public required string Model { get; init; }

    /// <summary>One per prompt and choice; none in a stream's final usage chunk.</summary>
    public required List<TextCompletionChoice> Choices { get; init; }

    public Usage? Usage { get; init; }
}

internal sealed record TextCompletionChoice
{
    public required string Text { get; init; }

    public int Index { get; init; }

    // OpenAI writes "logprobs": null and, in a stream, "finish_reason": null until the last chunk of a choice.
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public CompletionLogprobs? Logprobs { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public string? FinishReason { get; init; }
}

/// <summary>A completion's log probabilities, one entry per generated token in each list.</summary>
internal sealed record CompletionLogprobs
{
    public required List<string> Tokens { get; init; }

    public required List<double> TokenLogprobs { get; init; }

    /// <summary>The most likely tokens at each position, token to log probability (most likely first).</summary>
    public required List<Dictionary<string, double>> TopLogprobs { get; init; }

    /// <summary>Where each token starts in the choice's text (characters).</summary>
    public required List<int> TextOffset { get; init; }
}
