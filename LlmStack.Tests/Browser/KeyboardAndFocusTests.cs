using System.Text.RegularExpressions;
using Microsoft.Playwright;

namespace LlmStack.Tests.Browser;

/// <summary>The chat page by keyboard alone, on a desktop and on a phone: Escape, where focus goes, names of controls.</summary>
public sealed partial class KeyboardAndFocusTests(ChatUiStack stack) : IClassFixture<ChatUiStack>
{
    public static TheoryData<int, int> Screens => new() { { 1280, 800 }, { 390, 844 } };

    [Theory]
    [MemberData(nameof(Screens))]
    public async Task Settings_take_focus_when_opened_and_escape_closes_them_giving_it_back(int width, int height)
    {
        await using var chat = await stack.OpenChatAsync(width: width, height: height);
        var settings = chat.Page.GetByRole(AriaRole.Button, new() { Name = "Settings", Exact = true });
        var systemPrompt = chat.Page.GetByLabel("System prompt");

        await settings.ClickAsync();
        await Assertions.Expect(systemPrompt).ToBeFocusedAsync();
        await Assertions.Expect(settings).ToHaveAttributeAsync("aria-expanded", "true");

        await chat.Page.Keyboard.PressAsync("Escape");
        await Assertions.Expect(chat.Page.Locator("#chat-settings")).ToHaveCountAsync(0);
        await Assertions.Expect(settings).ToBeFocusedAsync();
        await Assertions.Expect(settings).ToHaveAttributeAsync("aria-expanded", "false");

        // The keyboard alone opens them again; their Close button gives focus back the same way.
        await chat.Page.Keyboard.PressAsync("Enter");
        await Assertions.Expect(systemPrompt).ToBeFocusedAsync();
        await chat.Page.GetByRole(AriaRole.Button, new() { Name = "Close settings" }).ClickAsync();
        await Assertions.Expect(settings).ToBeFocusedAsync();
    }

    [Fact]
    public async Task On_a_phone_the_conversation_drawer_keeps_focus_inside_and_escape_gives_it_back()
    {
        await using var chat = await stack.OpenChatAsync(width: 390, height: 844);
        await chat.PickModelAsync(ChatUiStack.ScriptedModel);
        await chat.SendAndWaitForReplyAsync("Keyboard first");
        var toggle = chat.Page.GetByRole(AriaRole.Button, new() { Name = "Show conversations" });
        var drawer = chat.Page.Locator("#conversations");

        await toggle.ClickAsync();
        await Assertions.Expect(drawer).ToBeVisibleAsync();
        await Assertions.Expect(toggle).ToHaveAttributeAsync("aria-expanded", "true");
        await Assertions.Expect(chat.Page.GetByLabel("Search conversations")).ToBeFocusedAsync();
        // The page behind is inert: Tab goes round the drawer's own controls (and past the document's end, which
        // the browser counts as a stop of its own), never to the page behind.
        var visited = new HashSet<string>();
        for (var i = 0; i < 8; i++)
        {
            await chat.Page.Keyboard.PressAsync("Tab");
            var focused = await chat.Page.EvaluateAsync<string>("""
                () => document.activeElement === document.body ? 'body'
                    : document.getElementById('conversations').contains(document.activeElement) ? document.activeElement.outerHTML.slice(0, 80)
                    : 'outside: ' + document.activeElement?.outerHTML.slice(0, 120)
                """);
            Assert.False(focused.StartsWith("outside", StringComparison.Ordinal), $"Tab {i + 1} left the drawer for {focused}");
            visited.Add(focused);
        }
        Assert.True(visited.Count(v => v != "body") >= 3, string.Join(" | ", visited));

        await chat.Page.Keyboard.PressAsync("Escape");
        await Assertions.Expect(drawer).Not.ToBeVisibleAsync();
        await Assertions.Expect(toggle).ToBeFocusedAsync();
        await Assertions.Expect(toggle).ToHaveAttributeAsync("aria-expanded", "false");

        // Choosing a conversation closes the drawer over it, ready to type.
        await toggle.ClickAsync();
        await chat.Conversations.Filter(new() { HasText = "Keyboard first" }).ClickAsync();
        await Assertions.Expect(drawer).Not.ToBeVisibleAsync();
        await Assertions.Expect(chat.MessageBox).ToBeFocusedAsync();
    }

    [Theory]
    [MemberData(nameof(Screens))]
    public async Task Every_control_has_a_name_and_tab_reaches_it(int width, int height)
    {
        await using var chat = await stack.OpenChatAsync(width: width, height: height);
        await chat.PickModelAsync(ChatUiStack.HostileModel);
        // A reply with a code block: Copy code, Copy reply, Retry and Edit are all on the page.
        await chat.SendAndWaitForReplyAsync("Weather, with code");

        var count = await chat.Page.EvaluateAsync<int>("""
            () => {
                const controls = [...document.querySelectorAll('button, select, textarea, input, a[href]')]
                    .filter(c => c.checkVisibility({ visibilityProperty: true }) && !c.disabled && !c.closest('[inert]'));
                controls.forEach((c, i) => c.dataset.control = String(i));
                document.activeElement?.blur();
                return controls.length;
            }
            """);
        Assert.True(count >= 10, $"only {count} controls found");
        for (var i = 0; i < count; i++)
        {
            var control = chat.Page.Locator($"[data-control='{i}']");
            try
            {
                await Assertions.Expect(control).ToHaveAccessibleNameAsync(Named(), new() { Timeout = 2_000 });
            }
            catch (PlaywrightException)
            {
                Assert.Fail($"No accessible name: {await control.EvaluateAsync<string>("c => c.outerHTML.slice(0, 200)")}");
            }
        }

        var reached = new HashSet<string>();
        for (var i = 0; i < count * 2 + 5 && reached.Count < count; i++)
        {
            await chat.Page.Keyboard.PressAsync("Tab");
            if (await chat.Page.EvaluateAsync<string?>("() => document.activeElement?.dataset.control ?? null") is { } control)
            {
                reached.Add(control);
            }
        }
        var missed = Enumerable.Range(0, count).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).Except(reached).ToList();
        var missedControls = new List<string>();
        foreach (var control in missed)
        {
            missedControls.Add(await chat.Page.Locator($"[data-control='{control}']").EvaluateAsync<string>("c => c.outerHTML.slice(0, 100)"));
        }
        Assert.True(missed.Count == 0, $"Tab never reached: {string.Join(" | ", missedControls)}");
    }

    [GeneratedRegex(@"\S")]
    private static partial Regex Named();
}
