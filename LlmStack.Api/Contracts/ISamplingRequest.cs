using System.Text.Json;

namespace LlmStack.Api.Contracts;

/// <summary>
/// The sampling fields a generation request carries under the same names in every OpenAI endpoint that has them
/// (chat completions, completions, Responses), read into one <c>GenerationParameters</c> by one method. An endpoint
/// whose body lacks a field (Responses has no penalties, stop or seed) leaves it to the default: absent.
/// </summary>
internal interface ISamplingRequest
{
    double? Temperature { get; }

    double? TopP { get; }

    double? PresencePenalty => null;

    double? FrequencyPenalty => null;

    /// <summary>A string or an array of up to four strings.</summary>
    JsonElement? Stop => null;

    long? Seed => null;

    string? User { get; }
}
