namespace LlmStack.Web.Chat;

/// <summary>A message in a conversation. An assistant turn also carries how its reply went.</summary>
public sealed class ChatTurn
{
    public required ChatTurnRole Role { get; init; }

    /// <summary>Grows token by token while the reply streams.</summary>
    public string Text { get; set; } = "";

    /// <summary>What a reasoning model thought before its reply (the API's <c>reasoning_content</c>); shown collapsed.</summary>
    public string Reasoning { get; set; } = "";

    public ReplyStats? Stats { get; set; }

    /// <summary>Why the reply failed, in words a person can act on (the API's message when it sent one).</summary>
    public string? Error { get; set; }

    /// <summary>The person stopped the reply; <see cref="Text"/> is what had arrived.</summary>
    public bool Stopped { get; set; }

    public static ChatTurn User(string text) => new() { Role = ChatTurnRole.User, Text = text };

    public static ChatTurn Assistant() => new() { Role = ChatTurnRole.Assistant };
}
