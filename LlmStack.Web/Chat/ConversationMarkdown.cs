using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace LlmStack.Web.Chat;

/// <summary>A conversation as a Markdown document, for the Export button.</summary>
public static partial class ConversationMarkdown
{
    /// <summary>
    /// The title as a heading, then each message under "You" or "Assistant" (with the model that answered). Replies
    /// are Markdown already and go in as they are; a failed or stopped reply says so.
    /// </summary>
    public static string Write(Conversation conversation)
    {
        var markdown = new StringBuilder();
        markdown.Append("# ").Append(conversation.Title.ReplaceLineEndings(" ")).Append("\n\n");
        markdown.Append(CultureInfo.InvariantCulture, $"_Exported from LlmStack, last message {conversation.UpdatedAt.UtcDateTime:yyyy-MM-dd HH:mm} UTC._\n");
        foreach (var turn in conversation.Turns)
        {
            if (turn.Role == ChatTurnRole.User)
            {
                markdown.Append("\n## You\n\n").Append(turn.Text.Trim()).Append('\n');
                continue;
            }
            markdown.Append("\n## Assistant");
            if (turn.Stats?.Model is { } model)
            {
                markdown.Append(" (").Append(model).Append(')');
            }
            markdown.Append("\n\n");
            if (turn.Text.Length > 0)
            {
                markdown.Append(turn.Text.Trim()).Append('\n');
            }
            if (turn.Stopped)
            {
                markdown.Append("\n_(stopped)_\n");
            }
            if (turn.Error is { } error)
            {
                markdown.Append("\n> Error: ").Append(error.ReplaceLineEndings(" ")).Append('\n');
            }
        }
        return markdown.ToString();
    }

    /// <summary>A file name from the title: letters, digits and dashes, at most 60 characters, ending in .md.</summary>
    public static string FileName(Conversation conversation)
    {
        var name = NotNameCharacters().Replace(conversation.Title, "-").Trim('-');
        if (name.Length > 60)
        {
            name = name[..60].TrimEnd('-');
        }
        return (name.Length == 0 ? "conversation" : name) + ".md";
    }

    [GeneratedRegex(@"[^\p{L}\p{Nd}]+")]
    private static partial Regex NotNameCharacters();
}
