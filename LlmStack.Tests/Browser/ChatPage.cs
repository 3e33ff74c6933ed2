using Microsoft.Playwright;

namespace LlmStack.Tests.Browser;

/// <summary>The chat page as a person uses it: the selectors live here, the tests say what happens.</summary>
public sealed class ChatPage(IPage page) : IAsyncDisposable
{
    public IPage Page => page;

    public ILocator MessageBox => page.GetByLabel("Message", new() { Exact = true });

    public ILocator ModelPicker => page.Locator("#model-picker");

    public ILocator StopButton => page.GetByRole(AriaRole.Button, new() { Name = "Stop the reply" });

    /// <summary>The text of each message the person sent (not the Edit button beside the last one).</summary>
    public ILocator UserMessages => page.Locator(".user-message .user-text");

    public ILocator Replies => page.Locator(".assistant-message");

    public ILocator LastReply => Replies.Last;

    /// <summary>The rendered markdown of the last reply.</summary>
    public ILocator LastReplyContent => LastReply.Locator("assistant-message");

    /// <summary>The stats line appears once a reply has ended.</summary>
    public ILocator LastReplyStats => LastReply.Locator(".reply-stats");

    public ILocator Alerts => page.Locator(".status-banners [role=alert]");

    public ILocator Conversations => page.Locator("#conversations .conversation");

    public async Task GotoAsync(Uri address)
    {
        await page.GotoAsync(address.ToString());
        await WaitUntilLoadedAsync();
    }

    public async Task ReloadAsync()
    {
        await page.ReloadAsync();
        await WaitUntilLoadedAsync();
    }

    public async Task PickModelAsync(string model)
    {
        // Options arrive with the first status probe.
        await ModelPicker.Locator($"option[value='{model}']").WaitForAsync(new() { State = WaitForSelectorState.Attached });
        await ModelPicker.SelectOptionAsync(model);
    }

    /// <summary>Types a message and presses Enter, as a person would.</summary>
    public async Task SendAsync(string text)
    {
        await MessageBox.FillAsync(text);
        await MessageBox.PressAsync("Enter");
    }

    /// <summary>Sends and waits until the reply has ended (its stats line shows) and its last text is rendered.</summary>
    public async Task SendAndWaitForReplyAsync(string text)
    {
        var replies = await Replies.CountAsync();
        await SendAsync(text);
        await Replies.Nth(replies).Locator(".reply-stats").WaitForAsync();
        // While a reply streams its renderer draws at most once per animation frame: the last tokens may arrive in
        // the same render as the stats line and be drawn on the next frame. Two frames later everything is drawn.
        await page.EvaluateAsync("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))");
    }

    /// <summary>The markdown source Blazor handed to the last reply's renderer.</summary>
    public async Task<string> LastReplyMarkdownAsync() =>
        await LastReplyContent.GetAttributeAsync("markdown") ?? "";

    public async Task ScreenshotAsync(string name)
    {
        var directory = Path.Combine(TestArtifacts.Root, "screenshots");
        Directory.CreateDirectory(directory);
        await page.ScreenshotAsync(new() { Path = Path.Combine(directory, name + ".png"), Animations = ScreenshotAnimations.Disabled });
    }

    public async ValueTask DisposeAsync() => await page.Context.CloseAsync();

    private Task WaitUntilLoadedAsync() =>
        // The page marks itself loaded once it has read the browser's storage over the interactive circuit.
        page.Locator(".chat-app[data-loaded=true]").WaitForAsync();
}

/// <summary>Where a test run keeps what people look at afterwards (test.sh's <c>TestResults</c>).</summary>
public static class TestArtifacts
{
    public static string Root { get; } = FindRoot();

    private static string FindRoot()
    {
        if (Environment.GetEnvironmentVariable("LLMSTACK_TEST_ARTIFACTS") is { Length: > 0 } configured)
        {
            return configured;
        }
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "LlmStack.sln")))
            {
                return Path.Combine(directory.FullName, "TestResults");
            }
        }
        return Path.Combine(AppContext.BaseDirectory, "TestResults");
    }
}
