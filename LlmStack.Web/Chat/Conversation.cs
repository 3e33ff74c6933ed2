using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.AI;

namespace LlmStack.Web.Chat;

/// <summary>One chat in the sidebar: its turns, kept in the browser's storage.</summary>
public sealed class Conversation
{
    private const int TitleLength = 60;

    public string Id { get; init; } = Guid.NewGuid().ToString("n");

    public string Title { get; set; } = "New chat";

    public DateTimeOffset UpdatedAt { get; set; } = DateTimeOffset.UtcNow;

    public List<ChatTurn> Turns { get; init; } = [];

    public void Add(ChatTurn turn)
    {
        if (Turns.Count == 0 && turn.Role == ChatTurnRole.User)
        {
            var firstLine = turn.Text.Trim().Split('\n', 2)[0];
            Title = firstLine.Length <= TitleLength ? firstLine : firstLine[..(TitleLength - 1)].TrimEnd() + "…";
        }
        Turns.Add(turn);
        UpdatedAt = DateTimeOffset.UtcNow;
    }

    /// <summary>
    /// The history sent with the next request: the system prompt, then every user turn and every assistant reply
    /// that has text (a stopped reply's partial text included, a failed request's nothing).
    /// </summary>
    public List<ChatMessage> ToChatMessages(string? systemPrompt)
    {
        var messages = new List<ChatMessage>(Turns.Count + 1);
        if (!string.IsNullOrWhiteSpace(systemPrompt))
        {
            messages.Add(new ChatMessage(ChatRole.System, systemPrompt));
        }
        foreach (var turn in Turns.Where(t => t.Text.Length > 0))
        {
            messages.Add(new ChatMessage(turn.Role == ChatTurnRole.User ? ChatRole.User : ChatRole.Assistant, turn.Text));
        }
        return messages;
    }
}

[JsonConverter(typeof(JsonStringEnumConverter<ChatTurnRole>))]
public enum ChatTurnRole
{
    User,
    Assistant,
}

/// <summary>A message in a conversation. An assistant turn also carries how its reply went.</summary>
public sealed class ChatTurn
{
    public required ChatTurnRole Role { get; init; }

    /// <summary>Grows token by token while the reply streams.</summary>
    public string Text { get; set; } = "";

    public ReplyStats? Stats { get; set; }

    /// <summary>Why the reply failed, in words a person can act on (the API's message when it sent one).</summary>
    public string? Error { get; set; }

    /// <summary>The person stopped the reply; <see cref="Text"/> is what had arrived.</summary>
    public bool Stopped { get; set; }

    public static ChatTurn User(string text) => new() { Role = ChatTurnRole.User, Text = text };

    public static ChatTurn Assistant() => new() { Role = ChatTurnRole.Assistant };
}

/// <summary>What the stats line under a reply shows. Token counts come from the API's usage report.</summary>
public sealed record ReplyStats(
    string? Model,
    double? TimeToFirstTokenSeconds,
    double? TokensPerSecond,
    long? InputTokens,
    long? OutputTokens,
    double DurationSeconds,
    string? FinishReason);

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

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(List<Conversation>))]
[JsonSerializable(typeof(ChatSettings))]
internal sealed partial class ChatStorageJsonContext : JsonSerializerContext;
