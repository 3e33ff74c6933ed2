using Microsoft.Extensions.AI;

namespace LlmStack.Web.Chat;

/// <summary>The settings panel: applied to every request, kept in the browser's storage.</summary>
public sealed class ChatSettings
{
    public const float MaxTemperature = 2;
    public const int MaxOutputTokens = 32_768;

    public string? Model { get; set; }

    public string SystemPrompt { get; set; } = "";

    /// <summary>0-2 as in OpenAI's API; null leaves the model's default.</summary>
    public float? Temperature { get; set; }

    /// <summary>Null leaves the API's default.</summary>
    public int? MaxTokens { get; set; }

    /// <summary>Brings typed-in numbers into the API's ranges, so the panel shows what will be sent.</summary>
    public void Normalize()
    {
        Temperature = Temperature is { } t ? MathF.Round(Math.Clamp(t, 0, MaxTemperature), 2) : null;
        MaxTokens = MaxTokens is { } m ? Math.Clamp(m, 1, MaxOutputTokens) : null;
    }

    public ChatOptions ToChatOptions()
    {
        Normalize();
        return new ChatOptions { ModelId = Model, Temperature = Temperature, MaxOutputTokens = MaxTokens };
    }
}
