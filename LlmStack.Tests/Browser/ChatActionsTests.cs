using LlmStack.Tests.Fixtures;
using Microsoft.Playwright;

namespace LlmStack.Tests.Browser;

/// <summary>What a reader does with a conversation besides asking: copy, edit and ask again, search, export.</summary>
public sealed class ChatActionsTests(ChatUiStack stack) : IClassFixture<ChatUiStack>
{
    [Fact]
    public async Task Copy_buttons_put_the_whole_reply_or_one_code_block_on_the_clipboard()
    {
        await using var chat = await stack.OpenChatAsync();
        await chat.Page.Context.GrantPermissionsAsync(["clipboard-read", "clipboard-write"]);
        await chat.PickModelAsync(ChatUiStack.HostileModel);
        await chat.SendAndWaitForReplyAsync("Weather report, please");

        var copyReply = chat.LastReply.GetByRole(AriaRole.Button, new() { Name = "Copy reply" });
        await copyReply.ClickAsync();
        await Assertions.Expect(copyReply).ToHaveTextAsync("Copied");
        // The Markdown source as the model wrote it, not the rendered page text.
        Assert.Equal(await chat.LastReplyMarkdownAsync(), await ClipboardAsync(chat));
        await Assertions.Expect(copyReply).ToHaveTextAsync("Copy", new() { Timeout = 5_000 });

        var copyCode = chat.LastReply.GetByRole(AriaRole.Button, new() { Name = "Copy csharp code" });
        await copyCode.ClickAsync();
        await Assertions.Expect(copyCode).ToHaveTextAsync("Copied");
        Assert.Equal("Console.WriteLine(\"hi\");\n", await ClipboardAsync(chat));
    }

    [Fact]
    public async Task Last_message_can_be_edited_and_asked_again()
    {
        await using var chat = await stack.OpenChatAsync();
        await chat.PickModelAsync(ChatUiStack.ScriptedModel);
        await chat.SendAndWaitForReplyAsync("Say helo");
        var edit = chat.Page.GetByRole(AriaRole.Button, new() { Name = "Edit your last message" });
        var editBox = chat.Page.GetByLabel("Edit your message");

        // Escape leaves the message as it was, focus back on Edit.
        await edit.ClickAsync();
        await Assertions.Expect(editBox).ToBeFocusedAsync();
        await Assertions.Expect(editBox).ToHaveValueAsync("Say helo");
        await chat.Page.Keyboard.PressAsync("Escape");
        await Assertions.Expect(editBox).ToHaveCountAsync(0);
        await Assertions.Expect(edit).ToBeFocusedAsync();
        Assert.Equal(["Say helo"], await chat.UserMessages.AllInnerTextsAsync());

        await chat.LastReply.EvaluateAsync("reply => reply.dataset.old = 'true'");
        await edit.ClickAsync();
        await editBox.FillAsync("Say hello");
        await editBox.PressAsync("Enter");

        await chat.Page.Locator(".assistant-message:not([data-old]) .reply-stats").WaitForAsync();
        Assert.Equal(["Say hello"], await chat.UserMessages.AllInnerTextsAsync());
        Assert.Equal(1, await chat.Replies.CountAsync());
        Assert.Equal(GeneratedModels.ScriptedReply, await chat.LastReplyMarkdownAsync());
        Assert.Equal("Say hello", await chat.Conversations.Locator(".conversation-title").First.InnerTextAsync());

        // What the page keeps is the edited conversation.
        await chat.ReloadAsync();
        Assert.Equal(["Say hello"], await chat.UserMessages.AllInnerTextsAsync());
    }

    [Fact]
    public async Task Conversation_list_can_be_searched_by_title_and_by_message_text()
    {
        await using var chat = await stack.OpenChatAsync();
        await chat.PickModelAsync(ChatUiStack.ScriptedModel);
        foreach (var question in new[] { "Apples in autumn", "Bananas for breakfast", "Cherries in June" })
        {
            await chat.Page.GetByRole(AriaRole.Button, new() { Name = "New chat" }).ClickAsync();
            // The new conversation is on the page (no reply of the previous one to count) before the next question.
            await chat.Page.GetByText("What can I help with?").WaitForAsync();
            await chat.SendAndWaitForReplyAsync(question);
        }
        var search = chat.Page.GetByLabel("Search conversations");
        var titles = chat.Conversations.Locator(".conversation-title");

        await search.FillAsync("BANANA");
        await Assertions.Expect(titles).ToHaveTextAsync(["Bananas for breakfast"]);

        // Every conversation holds the scripted reply: searching its words finds them all.
        var replyWord = GeneratedModels.ScriptedReply.Split(' ', StringSplitOptions.RemoveEmptyEntries)[0];
        await search.FillAsync(replyWord);
        await Assertions.Expect(titles).ToHaveCountAsync(3);

        await search.FillAsync("durian");
        await Assertions.Expect(titles).ToHaveCountAsync(0);
        await Assertions.Expect(chat.Page.Locator("#conversations [role=status]")).ToHaveTextAsync("No conversation mentions “durian”.");

        await search.FillAsync("");
        await Assertions.Expect(titles).ToHaveTextAsync(["Cherries in June", "Bananas for breakfast", "Apples in autumn"]);
    }

    [Fact]
    public async Task Conversation_is_exported_as_a_markdown_file()
    {
        await using var chat = await stack.OpenChatAsync();
        var export = chat.Page.GetByRole(AriaRole.Button, new() { Name = "Export conversation as Markdown" });
        await Assertions.Expect(export).ToBeDisabledAsync();
        await chat.PickModelAsync(ChatUiStack.ScriptedModel);
        await chat.SendAndWaitForReplyAsync("Say hello");

        var download = await chat.Page.RunAndWaitForDownloadAsync(() => export.ClickAsync());

        Assert.Equal("Say-hello.md", download.SuggestedFilename);
        var path = await download.PathAsync();
        var markdown = await File.ReadAllTextAsync(path, TestContext.Current.CancellationToken);
        Assert.StartsWith("# Say hello\n", markdown, StringComparison.Ordinal);
        Assert.EndsWith(
            $"\n## You\n\nSay hello\n\n## Assistant ({ChatUiStack.ScriptedModel})\n\n{GeneratedModels.ScriptedReply.Trim()}\n",
            markdown, StringComparison.Ordinal);
    }

    private static Task<string> ClipboardAsync(ChatPage chat) => chat.Page.EvaluateAsync<string>("navigator.clipboard.readText()");
}
