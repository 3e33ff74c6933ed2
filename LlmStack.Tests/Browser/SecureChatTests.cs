using System.Collections.Concurrent;
using LlmStack.Api.Configuration;
using LlmStack.Api.Pipeline;
using LlmStack.Tests.Fixtures;

namespace LlmStack.Tests.Browser;

/// <summary>The chat page in front of an API that requires a key, under the Web's Content-Security-Policy.</summary>
public sealed class SecureChatTests(ChatUiStack stack, GeneratedModels models) : IClassFixture<ChatUiStack>
{
    private const string Key = "sk-web-0123456789abcdef0123";

    [Fact]
    public async Task Chat_works_with_api_keys_on_and_nothing_breaks_the_content_security_policy()
    {
        var api = new ApiApplication(
            [new ModelOptions { Id = ChatUiStack.ScriptedModel, Backend = "embedded", Path = models.Scripted }],
            new Dictionary<string, string?> { ["LlmStack:Auth:Keys:0:Key"] = Key, ["LlmStack:Auth:Keys:0:Name"] = "web" });
        var web = stack.StartWebFor(api, new Dictionary<string, string?> { ["LlmStack:ApiKey"] = Key });
        await using var chat = await stack.OpenChatAsync(web);
        var violations = new ConcurrentQueue<string>();
        chat.Page.Console += (_, message) =>
        {
            if (message.Text.Contains("Content Security Policy", StringComparison.OrdinalIgnoreCase))
            {
                violations.Enqueue(message.Text);
            }
        };
        // Loaded again with the listener in place: every script of the page runs under the policy.
        await chat.GotoAsync(web.BaseAddress);

        await chat.SendAndWaitForReplyAsync("Hello with a key");

        Assert.Equal(GeneratedModels.ScriptedReply, (await chat.LastReplyContent.InnerTextAsync()).Trim());
        Assert.Empty(violations);
        // The key stays on the server.
        Assert.DoesNotContain(Key, await chat.Page.ContentAsync(), StringComparison.Ordinal);
    }
}
