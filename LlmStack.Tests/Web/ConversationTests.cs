extern alias web;

using web::LlmStack.Web.Chat;

namespace LlmStack.Tests.Web;

/// <summary>What the conversation list's search, Edit and Export do with a conversation.</summary>
public sealed class ConversationTests
{
    [Fact]
    public void Search_finds_words_in_the_title_and_in_any_message_ignoring_case()
    {
        var conversation = Conversation("Plan a trip to Lisbon", "Take the tram to Belém.");

        Assert.True(conversation.Mentions("lisbon"));
        Assert.True(conversation.Mentions("  BELÉM "));
        Assert.True(conversation.Mentions(""));
        Assert.False(conversation.Mentions("Porto"));
    }

    [Fact]
    public void Editing_the_last_message_replaces_it_and_drops_its_reply()
    {
        var conversation = Conversation("First question", "First answer");
        conversation.Add(ChatTurn.User("Second question"));
        conversation.Add(new ChatTurn { Role = ChatTurnRole.Assistant, Text = "Second answer" });

        Assert.True(conversation.EditLastUserMessage("Second question, better put"));

        Assert.Equal(["First question", "First answer", "Second question, better put"], conversation.Turns.Select(t => t.Text));
        Assert.Equal("First question", conversation.Title);
    }

    [Fact]
    public void Editing_the_only_message_gives_the_conversation_its_new_title()
    {
        var conversation = Conversation("Helo", "Did you mean hello?");

        Assert.True(conversation.EditLastUserMessage("Hello"));

        Assert.Equal("Hello", conversation.Title);
        Assert.Equal(ChatTurnRole.User, Assert.Single(conversation.Turns).Role);
        Assert.False(new Conversation().EditLastUserMessage("Nothing to edit"));
    }

    [Fact]
    public void Export_writes_each_message_under_its_speaker_with_the_reply_markdown_as_is()
    {
        var conversation = Conversation("Show me code", "```csharp\nConsole.WriteLine(1);\n```");
        conversation.Turns[1].Stats = new ReplyStats("qwen2.5:7b", 0.2, 10, 5, 7, 1.0, "stop");
        conversation.Add(ChatTurn.User("And again?"));
        conversation.Add(new ChatTurn { Role = ChatTurnRole.Assistant, Text = "Sure", Stopped = true });

        var markdown = ConversationMarkdown.Write(conversation);

        Assert.StartsWith("# Show me code\n\n_Exported from LlmStack, last message ", markdown, StringComparison.Ordinal);
        Assert.EndsWith(
            "\n## You\n\nShow me code\n\n## Assistant (qwen2.5:7b)\n\n```csharp\nConsole.WriteLine(1);\n```\n" +
            "\n## You\n\nAnd again?\n\n## Assistant\n\nSure\n\n_(stopped)_\n",
            markdown, StringComparison.Ordinal);
        Assert.Equal("Show-me-code.md", ConversationMarkdown.FileName(conversation));
        Assert.Equal("conversation.md", ConversationMarkdown.FileName(new Conversation { Title = "???" }));
    }

    private static Conversation Conversation(string question, string answer)
    {
        var conversation = new Conversation();
        conversation.Add(ChatTurn.User(question));
        conversation.Add(new ChatTurn { Role = ChatTurnRole.Assistant, Text = answer });
        return conversation;
    }
}
