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

    /// <summary>Whether the title or any message contains <paramref name="query"/> (ignoring case); a blank query matches all.</summary>
    public bool Mentions(string? query) =>
        string.IsNullOrWhiteSpace(query)
        || Title.Contains(query.Trim(), StringComparison.CurrentCultureIgnoreCase)
        || Turns.Any(t => t.Text.Contains(query.Trim(), StringComparison.CurrentCultureIgnoreCase));

    /// <summary>
    /// Replaces the last user message with <paramref name="text"/> and drops what came after it (its reply), so that
    /// the conversation can be asked again. False when there is no user message.
    /// </summary>
    public bool EditLastUserMessage(string text)
    {
        var last = Turns.FindLastIndex(t => t.Role == ChatTurnRole.User);
        if (last < 0)
        {
            return false;
        }
        Turns.RemoveRange(last, Turns.Count - last);
        // When it was the first message, adding its new text gives the conversation its new title.
        Add(ChatTurn.User(text));
        return true;
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
