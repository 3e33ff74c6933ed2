using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using LlmStack.Api.Backends;
using LlmStack.Api.Configuration;
using LlmStack.Api.Errors;
using LlmStack.Api.Pipeline;
using LlmStack.Tests.Fixtures;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace LlmStack.Tests.Browser;

/// <summary>
/// The Web UI in a real browser against the real API serving generated models: what a person sees and does.
/// </summary>
public sealed partial class ChatPageTests(ChatUiStack stack) : IClassFixture<ChatUiStack>
{
    private static readonly TimeSpan ApiCallTimeout = TimeSpan.FromSeconds(10);

    // The API's own in-flight gauge, read from its meter (its /metrics also aggregates every other API host in
    // the test process, so it cannot be read per host there).
    private static readonly TimeSpan InFlightBound = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task Reply_streams_in_token_by_token_and_shows_its_stats()
    {
        await using var chat = await stack.OpenChatAsync();
        await chat.PickModelAsync(ChatUiStack.ScriptedModel);
        await RecordReplyRenderingsAsync(chat.Page);

        await chat.SendAndWaitForReplyAsync("Say hello");

        Assert.Equal("Say hello", await chat.UserMessages.Last.InnerTextAsync());
        Assert.Equal(GeneratedModels.ScriptedReply, (await chat.LastReplyContent.InnerTextAsync()).Trim());

        // Streamed: the reply's text reached the page in several growing steps, each a prefix of the next.
        var renderings = await chat.Page.EvaluateAsync<string[]>("window.__renderings");
        Assert.True(renderings.Length >= 3, $"The reply arrived in {renderings.Length} step(s): {string.Join(" | ", renderings)}");
        for (var i = 1; i < renderings.Length; i++)
        {
            Assert.StartsWith(renderings[i - 1], renderings[i], StringComparison.Ordinal);
            Assert.True(renderings[i].Length > renderings[i - 1].Length);
        }
        Assert.Equal(GeneratedModels.ScriptedReply, renderings[^1]);

        var stats = chat.LastReplyStats;
        Assert.Equal(ChatUiStack.ScriptedModel, await stats.Locator(".stat-model dd").InnerTextAsync());
        Assert.Matches(DurationPattern(), await stats.Locator(".stat-ttft dd").InnerTextAsync());
        Assert.Matches(SpeedPattern(), await stats.Locator(".stat-speed dd").InnerTextAsync());
        var tokens = TokensPattern().Match(await stats.Locator(".stat-tokens dd").InnerTextAsync());
        Assert.True(tokens.Success);
        Assert.True(int.Parse(tokens.Groups["in"].Value, CultureInfo.InvariantCulture) > 0);
        Assert.Equal(GeneratedModels.PiecesOf(GeneratedModels.ScriptedReply).Count,
            int.Parse(tokens.Groups["out"].Value, CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task Stop_keeps_the_partial_reply_and_ends_the_request_at_the_api()
    {
        using var inFlight = new InFlightRequests(stack.Api.Services);
        await using var chat = await stack.OpenChatAsync();
        await chat.PickModelAsync(ChatUiStack.LoopingModel);

        await chat.SendAsync("Go on forever");
        await chat.StopButton.WaitForAsync();
        // The endless reply keeps growing while it streams, and the API counts it in flight.
        await chat.Page.WaitForFunctionAsync(
            "n => (document.querySelector('.in-progress assistant-message')?.getAttribute('markdown') ?? '').length > n",
            GeneratedModels.LoopingReply.Length * 2);
        await inFlight.WaitUntilAsync(active => active == 1, InFlightBound);

        await chat.StopButton.ClickAsync();

        await chat.LastReply.Locator(".reply-flag", new() { HasText = "Stopped" }).WaitForAsync();
        await inFlight.WaitUntilAsync(active => active == 0, InFlightBound);
        var partial = await chat.LastReplyMarkdownAsync();
        Assert.StartsWith(GeneratedModels.LoopingReply.TrimEnd(), partial, StringComparison.Ordinal);
        Assert.True(await chat.StopButton.CountAsync() == 0, "The Stop button should give way to Send.");
        await chat.MessageBox.FillAsync("Still here?");
        Assert.Equal(partial, await chat.LastReplyMarkdownAsync());
    }

    [Fact]
    public async Task Conversation_survives_a_reload()
    {
        await using var chat = await stack.OpenChatAsync();
        await chat.PickModelAsync(ChatUiStack.ScriptedModel);
        // Shift+Enter starts a new line (and the box grows); Enter sends.
        await chat.MessageBox.PressSequentiallyAsync("Remember");
        await chat.MessageBox.PressAsync("Shift+Enter");
        await chat.MessageBox.PressSequentiallyAsync("me");
        Assert.Equal(2, await chat.MessageBox.EvaluateAsync<int>("box => box.rows"));
        await chat.MessageBox.PressAsync("Enter");
        await chat.LastReplyStats.WaitForAsync();
        Assert.Equal("", await chat.MessageBox.InputValueAsync());
        Assert.Equal(1, await chat.MessageBox.EvaluateAsync<int>("box => box.rows"));

        await chat.ReloadAsync();

        await chat.LastReplyStats.WaitForAsync();
        Assert.Equal("Remember\nme", await chat.UserMessages.Last.InnerTextAsync());
        Assert.Equal(GeneratedModels.ScriptedReply, (await chat.LastReplyContent.InnerTextAsync()).Trim());
        Assert.Equal("Remember", await chat.Conversations.Locator(".conversation-title").First.InnerTextAsync());
        Assert.Equal(ChatUiStack.ScriptedModel, await chat.ModelPicker.InputValueAsync());
    }

    [Fact]
    public async Task Reload_during_a_reply_keeps_the_question_and_offers_to_ask_again()
    {
        using var inFlight = new InFlightRequests(stack.Api.Services);
        await using var chat = await stack.OpenChatAsync();
        await chat.PickModelAsync(ChatUiStack.LoopingModel);
        await chat.SendAsync("Interrupted question");
        await chat.StopButton.WaitForAsync();
        await inFlight.WaitUntilAsync(active => active == 1, InFlightBound);

        await chat.ReloadAsync();

        // Closing the page cancelled the request at the API too.
        await inFlight.WaitUntilAsync(active => active == 0, InFlightBound);
        Assert.Equal("Interrupted question", await chat.UserMessages.Last.InnerTextAsync());
        await chat.PickModelAsync(ChatUiStack.ScriptedModel);
        await chat.Page.GetByRole(AriaRole.Button, new() { Name = "Get a reply" }).ClickAsync();
        await chat.LastReplyStats.WaitForAsync();
        Assert.Equal(GeneratedModels.ScriptedReply, await chat.LastReplyMarkdownAsync());
    }

    [Fact]
    public async Task Conversation_survives_a_server_restart()
    {
        // Browser storage belongs to the origin: the restarted UI must come back on the same port, and with its data
        // (the session's and the stored conversations' keys), as a container comes back with its volume.
        var data = Directory.CreateTempSubdirectory("llmstack-web-restart-").FullName;
        var first = new WebUiApplication(stack.Api.BaseAddress, dataDirectory: data);
        var address = first.BaseAddress;
        await using var chat = await stack.OpenChatAsync(first);
        await chat.PickModelAsync(ChatUiStack.ScriptedModel);
        await chat.SendAndWaitForReplyAsync("Before the restart");

        await first.DisposeAsync();
        await using var restarted = new WebUiApplication(stack.Api.BaseAddress, address.Port, dataDirectory: data);
        Assert.Equal(address, restarted.BaseAddress);
        await chat.ReloadAsync();

        await chat.LastReplyStats.WaitForAsync();
        Assert.Equal("Before the restart", await chat.UserMessages.Last.InnerTextAsync());
        Assert.Equal(GeneratedModels.ScriptedReply, await chat.LastReplyMarkdownAsync());
    }

    [Fact]
    public async Task Html_and_script_in_a_reply_are_shown_as_text_and_never_run()
    {
        await using var chat = await stack.OpenChatAsync();
        var dialogs = new List<string>();
        chat.Page.Dialog += (_, dialog) =>
        {
            dialogs.Add(dialog.Message);
            _ = dialog.DismissAsync();
        };
        await chat.PickModelAsync(ChatUiStack.HostileModel);

        await chat.SendAndWaitForReplyAsync("What's the weather?");

        var reply = chat.LastReplyContent;
        Assert.Equal("undefined", await chat.Page.EvaluateAsync<string>("typeof window.__xss"));
        Assert.Empty(dialogs);
        Assert.Equal(0, await reply.Locator("img, script, [onerror]").CountAsync());
        var text = await reply.InnerTextAsync();
        Assert.Contains("<img src=x onerror=alert(1)>", text, StringComparison.Ordinal);
        Assert.Contains("<script>window.__xss=1</script>", text, StringComparison.Ordinal);

        // The markdown around it is rendered as markdown, the code highlighted and copyable.
        Assert.Equal("Weather report", await reply.Locator("h1").InnerTextAsync());
        Assert.Equal(2, await reply.Locator("ul > li").CountAsync());
        Assert.Equal("21", await reply.Locator("table td").Last.InnerTextAsync());
        Assert.Equal(1, await reply.Locator("pre > code.hljs.language-csharp").CountAsync());

        await chat.Page.Context.GrantPermissionsAsync(["clipboard-read", "clipboard-write"]);
        var copy = reply.GetByRole(AriaRole.Button, new() { Name = "Copy csharp code" });
        await copy.ClickAsync();
        await Assertions.Expect(copy).ToHaveTextAsync("Copied");
        Assert.Equal("Console.WriteLine(\"hi\");\n", await chat.Page.EvaluateAsync<string>("navigator.clipboard.readText()"));
    }

    [Fact]
    public async Task Reasoning_is_shown_collapsed_above_the_reply()
    {
        await using var chat = await stack.OpenChatAsync();
        await chat.PickModelAsync(ChatUiStack.ThinkingModel);

        await chat.SendAndWaitForReplyAsync("Hi!");

        var reasoning = chat.LastReply.Locator("details.reasoning");
        Assert.Null(await reasoning.GetAttributeAsync("open"));
        await Assertions.Expect(reasoning.Locator(".reasoning-text")).ToBeHiddenAsync();
        await Assertions.Expect(chat.LastReplyContent).ToHaveTextAsync(GeneratedModels.ThinkingAnswer);
        await reasoning.Locator("summary").ClickAsync();
        await Assertions.Expect(reasoning.Locator(".reasoning-text")).ToHaveTextAsync(GeneratedModels.ThinkingReasoning);
        var above = await reasoning.BoundingBoxAsync();
        var reply = await chat.LastReplyContent.BoundingBoxAsync();
        Assert.True(above!.Y + above.Height <= reply!.Y + 1, "the reasoning sits above the reply");
    }

    [Fact]
    public async Task Streaming_reply_is_followed_unless_the_reader_scrolls_up()
    {
        await using var chat = await stack.OpenChatAsync(height: 600);
        await chat.PickModelAsync(ChatUiStack.LoopingModel);
        await chat.SendAsync("Fill the screen");

        // The endless reply outgrows the list several times over and the list keeps its end in view.
        await chat.Page.WaitForFunctionAsync("""
            () => {
                const list = document.querySelector('.message-scroller');
                return list.scrollHeight > 3 * list.clientHeight && list.scrollHeight - list.scrollTop - list.clientHeight < 60;
            }
            """);

        await chat.Page.Locator(".message-scroller").HoverAsync();
        await chat.Page.Mouse.WheelAsync(0, -400);
        await chat.Page.WaitForFunctionAsync(
            "() => { const list = document.querySelector('.message-scroller'); return list.scrollHeight - list.scrollTop - list.clientHeight > 300; }");
        var position = await ScrollPositionAsync();
        // The reply goes on growing below while the reader stays where they scrolled to.
        await chat.Page.WaitForFunctionAsync(
            "height => document.querySelector('.message-scroller').scrollHeight > height + 1000", position.Height);
        Assert.Equal(position.Top, (await ScrollPositionAsync()).Top);

        await chat.StopButton.ClickAsync();
        await chat.LastReply.Locator(".reply-flag", new() { HasText = "Stopped" }).WaitForAsync();

        async Task<(double Top, double Height)> ScrollPositionAsync()
        {
            var values = await chat.Page.EvaluateAsync<double[]>(
                "() => { const list = document.querySelector('.message-scroller'); return [list.scrollTop, list.scrollHeight]; }");
            return (values[0], values[1]);
        }
    }

    [Fact]
    public async Task Model_picker_lists_the_models_the_api_serves()
    {
        using var http = new HttpClient { BaseAddress = stack.Api.BaseAddress };
        var models = await http.GetFromJsonAsync<JsonElement>("/v1/models", TestContext.Current.CancellationToken)
            .WaitAsync(ApiCallTimeout, TestContext.Current.CancellationToken);
        var served = models.GetProperty("data").EnumerateArray().Select(m => m.GetProperty("id").GetString()).ToArray();

        await using var chat = await stack.OpenChatAsync();
        await chat.ModelPicker.Locator($"option[value='{served[^1]}']").WaitForAsync(new() { State = WaitForSelectorState.Attached });

        var offered = await chat.ModelPicker.Locator("option").EvaluateAllAsync<string[]>("options => options.map(o => o.value)");
        Assert.Equal(served, offered);
        Assert.Equal([ChatUiStack.ScriptedModel, ChatUiStack.LoopingModel, ChatUiStack.HostileModel, ChatUiStack.ThinkingModel], offered);
    }

    [Fact]
    public async Task Api_that_is_down_gives_a_readable_error_not_a_broken_page()
    {
        await using var chat = await stack.OpenChatAsync(stack.StartWebWithoutApi());

        await chat.Alerts.Filter(new() { HasText = "Can't reach the LlmStack API" }).WaitForAsync();
        await chat.SendAsync("Anyone there?");

        var error = chat.LastReply.Locator(".reply-error");
        await error.WaitForAsync();
        Assert.Contains("Can't reach the LlmStack API at http://127.0.0.1:", await error.InnerTextAsync(), StringComparison.Ordinal);
        Assert.False(await chat.Page.Locator("#blazor-error-ui").IsVisibleAsync());
        Assert.True(await chat.MessageBox.IsEditableAsync());
        Assert.Equal("Anyone there?", await chat.UserMessages.Last.InnerTextAsync());
        await chat.ScreenshotAsync("api-down");
    }

    [Fact]
    public async Task Error_the_api_sends_mid_stream_is_shown_after_the_partial_reply()
    {
        var web = stack.StartWebFor(InMemoryBackend.Serve(("overflowing", new InMemoryChatClient(OverflowAfterOnePiece))));
        await using var chat = await stack.OpenChatAsync(web);

        await chat.SendAndWaitForReplyAsync("A very long conversation");

        Assert.Equal("The beginning", (await chat.LastReplyContent.InnerTextAsync()).Trim());
        Assert.Equal(
            "The API stopped the reply: This model's maximum context length is 4096 tokens. However, your messages resulted in 5000 tokens.",
            await chat.LastReply.Locator(".reply-error").InnerTextAsync());
        Assert.Equal(1, await chat.LastReply.GetByRole(AriaRole.Button, new() { Name = "Retry" }).CountAsync());

        static async IAsyncEnumerable<ChatResponseUpdate> OverflowAfterOnePiece(
            IList<ChatMessage> messages, ChatOptions? options, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
        {
            yield return new ChatResponseUpdate(ChatRole.Assistant, "The beginning");
            await Task.Yield();
            throw ApiErrorException.ContextLengthExceeded(5000, 4096);
        }
    }

    [Fact]
    public async Task Model_still_downloading_is_announced_with_the_api_reason()
    {
        var api = new ApiApplication(
            [new ModelOptions { Id = "qwen2.5:7b", Backend = NotReadyBackend.BackendName }],
            configureServices: services => services.AddSingleton<IModelBackend, NotReadyBackend>());
        await using var chat = await stack.OpenChatAsync(stack.StartWebFor(api));

        var banner = chat.Page.Locator(".status-banners [role=status]", new() { HasText = "qwen2.5:7b is being downloaded or loaded." });
        await banner.WaitForAsync();
        Assert.Contains(NotReadyBackend.Reason, await banner.InnerTextAsync(), StringComparison.Ordinal);
        // No dashboard was given to this Web: no link to one.
        Assert.Equal(0, await banner.GetByRole(AriaRole.Link).CountAsync());
        Assert.Equal(0, await chat.Alerts.CountAsync());
    }

    [Fact]
    public async Task Built_in_demo_model_is_labelled_as_such()
    {
        var web = stack.StartWebFor(new ApiApplication([]));
        await using var chat = await stack.OpenChatAsync(web);

        var banner = chat.Page.Locator(".status-banners .banner-info", new() { HasText = "Demo model." });
        await banner.WaitForAsync();
        var demoModel = await chat.ModelPicker.InputValueAsync();
        Assert.Contains(demoModel, await banner.InnerTextAsync(), StringComparison.Ordinal);
        Assert.EndsWith("(demo)", await chat.ModelPicker.Locator("option:checked").InnerTextAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Settings_apply_to_the_next_reply()
    {
        await using var chat = await stack.OpenChatAsync();
        await chat.PickModelAsync(ChatUiStack.ScriptedModel);

        await chat.Page.GetByRole(AriaRole.Button, new() { Name = "Settings" }).ClickAsync();
        // Out-of-range numbers are brought into the API's range where the reader can see it.
        await chat.Page.GetByLabel("Max tokens").FillAsync("0");
        await chat.Page.GetByLabel("Max tokens").BlurAsync();
        await Assertions.Expect(chat.Page.GetByLabel("Max tokens")).ToHaveValueAsync("1");
        await chat.Page.GetByLabel("Temperature").FillAsync("7");
        await chat.Page.GetByLabel("Temperature").BlurAsync();
        await Assertions.Expect(chat.Page.GetByLabel("Temperature")).ToHaveValueAsync("2");
        await chat.Page.GetByLabel("Max tokens").FillAsync("3");
        await chat.Page.GetByLabel("Temperature").FillAsync("0.2");
        await chat.Page.GetByLabel("System prompt").FillAsync("Be brief.");
        await chat.ScreenshotAsync("settings");
        await chat.Page.GetByRole(AriaRole.Button, new() { Name = "Close settings" }).ClickAsync();
        await chat.SendAndWaitForReplyAsync("Say hello");

        var pieces = GeneratedModels.PiecesOf(GeneratedModels.ScriptedReply);
        Assert.Equal(string.Concat(pieces.Take(3)), await chat.LastReplyMarkdownAsync());
        Assert.Equal(1, await chat.LastReply.Locator(".reply-flag", new() { HasText = "Cut at max tokens" }).CountAsync());
        Assert.EndsWith(" · 3 out", await chat.LastReplyStats.Locator(".stat-tokens dd").InnerTextAsync(), StringComparison.Ordinal);

        // Kept with the conversations: a reload finds them again.
        await chat.ReloadAsync();
        await chat.Page.GetByRole(AriaRole.Button, new() { Name = "Settings" }).ClickAsync();
        Assert.Equal("3", await chat.Page.GetByLabel("Max tokens").InputValueAsync());
        Assert.Equal("Be brief.", await chat.Page.GetByLabel("System prompt").InputValueAsync());
    }

    [Fact]
    public async Task New_chat_retry_and_the_sidebar_move_between_conversations()
    {
        await using var chat = await stack.OpenChatAsync();
        await chat.PickModelAsync(ChatUiStack.ScriptedModel);
        await chat.SendAndWaitForReplyAsync("First question");

        await chat.Page.GetByRole(AriaRole.Button, new() { Name = "New chat" }).ClickAsync();
        await chat.Page.GetByText("What can I help with?").WaitForAsync();
        Assert.Equal(0, await chat.UserMessages.CountAsync());
        await chat.SendAndWaitForReplyAsync("Second question");

        Assert.Equal(["Second question", "First question"],
            await chat.Conversations.Locator(".conversation-title").AllInnerTextsAsync());
        Assert.Matches(@"\d{1,2}:\d{2}", await chat.Conversations.Locator(".conversation-time").First.InnerTextAsync());

        await chat.Conversations.Filter(new() { HasText = "First question" }).ClickAsync();
        await chat.UserMessages.Filter(new() { HasText = "First question" }).WaitForAsync();
        Assert.Equal(1, await chat.UserMessages.CountAsync());

        // Retry replaces the last reply with a new one.
        await chat.LastReply.EvaluateAsync("reply => reply.dataset.replaced = 'true'");
        await chat.LastReply.GetByRole(AriaRole.Button, new() { Name = "Retry" }).ClickAsync();
        await chat.Page.Locator(".assistant-message:not([data-replaced]) .reply-stats").WaitForAsync();
        Assert.Equal(1, await chat.Replies.CountAsync());
        Assert.Equal(GeneratedModels.ScriptedReply, await chat.LastReplyMarkdownAsync());

        await chat.Conversations.Filter(new() { HasText = "Second question" })
            .Locator("xpath=..").GetByRole(AriaRole.Button, new() { Name = "Delete conversation: Second question" }).ClickAsync();
        await chat.Conversations.Filter(new() { HasText = "Second question" }).WaitForAsync(new() { State = WaitForSelectorState.Detached });
        Assert.Equal(1, await chat.Conversations.CountAsync());
    }

    [Fact]
    public async Task Chat_follows_the_system_theme_and_fits_a_phone()
    {
        var backgrounds = new Dictionary<string, string>();
        foreach (var (name, scheme, width, height) in new[]
                 {
                     ("chat-light", ColorScheme.Light, 1280, 800),
                     ("chat-dark", ColorScheme.Dark, 1280, 800),
                     ("chat-phone", ColorScheme.Light, 390, 844),
                 })
        {
            await using var chat = await stack.OpenChatAsync(colorScheme: scheme, width: width, height: height);
            await chat.PickModelAsync(ChatUiStack.ScriptedModel);
            await chat.SendAndWaitForReplyAsync("Say hello");
            await chat.PickModelAsync(ChatUiStack.HostileModel);
            await chat.SendAndWaitForReplyAsync("Show me the weather in markdown");
            await chat.ScreenshotAsync(name);

            backgrounds[name] = await chat.Page.EvaluateAsync<string>("getComputedStyle(document.body).backgroundColor");
            // Nothing may overflow sideways: a phone must not need horizontal scrolling.
            Assert.True(await chat.Page.EvaluateAsync<bool>("document.documentElement.scrollWidth <= window.innerWidth"), name);
            var sidebarVisible = await chat.Page.Locator("#conversations").IsVisibleAsync();
            var toggle = chat.Page.GetByRole(AriaRole.Button, new() { Name = "Show conversations" });
            if (width < 800)
            {
                Assert.False(sidebarVisible, "On a phone the conversation list hides behind its button.");
                await toggle.ClickAsync();
                await chat.Page.Locator("#conversations").WaitForAsync();
                await chat.ScreenshotAsync(name + "-conversations");
            }
            else
            {
                Assert.True(sidebarVisible);
                Assert.False(await toggle.IsVisibleAsync());
            }
        }
        Assert.NotEqual(backgrounds["chat-light"], backgrounds["chat-dark"]);
    }

    /// <summary>Records every value of the streaming reply's markdown attribute, as Blazor sets it.</summary>
    private static Task RecordReplyRenderingsAsync(IPage page) => page.EvaluateAsync("""
        () => {
            window.__renderings = [];
            const record = value => {
                if (value && window.__renderings[window.__renderings.length - 1] !== value) {
                    window.__renderings.push(value);
                }
            };
            new MutationObserver(mutations => {
                // A batch of records may cover several updates: each record's old value is one step, and the
                // element's current value the latest.
                for (const m of mutations) {
                    if (m.target.tagName === 'ASSISTANT-MESSAGE') {
                        record(m.oldValue);
                    }
                }
                const elements = document.querySelectorAll('assistant-message');
                record(elements[elements.length - 1]?.getAttribute('markdown'));
            }).observe(document.body, { subtree: true, childList: true, attributeFilter: ['markdown'], attributeOldValue: true });
        }
        """);

    [GeneratedRegex(@"^\d+ ms$|^\d+\.\d\d s$")]
    private static partial Regex DurationPattern();

    [GeneratedRegex(@"^\d+\.\d tok/s$")]
    private static partial Regex SpeedPattern();

    [GeneratedRegex(@"^(?<in>\d+) in · (?<out>\d+) out$")]
    private static partial Regex TokensPattern();

}
