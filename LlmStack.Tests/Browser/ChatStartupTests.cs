using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmStack.Api.Configuration;
using LlmStack.Api.Pipeline;
using LlmStack.Tests.Backends.Embedded.Hub;
using LlmStack.Tests.Fixtures;
using Microsoft.Playwright;

namespace LlmStack.Tests.Browser;

/// <summary>
/// The chat page's first seconds as a new user meets them: typing before the page is live, and a model that is
/// still being downloaded when the page opens.
/// </summary>
public sealed class ChatStartupTests(ChatUiStack stack, GeneratedModels models) : IClassFixture<ChatUiStack>
{
    private const string DownloadingModel = "tiny:1b";
    private static readonly TimeSpan ApiCallTimeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Message_typed_and_sent_right_after_the_first_paint_is_answered_every_time()
    {
        for (var run = 1; run <= 20; run++)
        {
            await using var chat = await stack.OpenChatWithoutWaitingAsync();
            var question = $"Hello, run {run}";

            // No wait for any ready marker: the box is there at first paint, typing and Enter go in at once.
            var box = chat.Page.GetByLabel("Message", new() { Exact = true });
            await box.FillAsync(question);
            await box.PressAsync("Enter");

            await chat.LastReplyStats.WaitForAsync();
            Assert.Equal([question], await chat.UserMessages.AllInnerTextsAsync());
            Assert.Equal(1, await chat.Replies.CountAsync());
            Assert.Equal(GeneratedModels.ScriptedReply, await chat.LastReplyMarkdownAsync());
            Assert.Equal("", await chat.MessageBox.InputValueAsync());
        }
    }

    [Fact]
    public async Task Connecting_page_keeps_the_draft_and_says_it_is_connecting()
    {
        await using var chat = await stack.OpenChatWithoutWaitingAsync();
        // Hold the interactive connection back, so that the connecting page stays while the test looks at it.
        await chat.Page.RouteAsync("**/_blazor/**", route => Task.Delay(TimeSpan.FromSeconds(3)).ContinueWith(_ => route.ContinueAsync()).Unwrap());
        await chat.Page.ReloadAsync(new() { WaitUntil = WaitUntilState.Commit });

        var connecting = chat.Page.Locator("#connecting-page");
        await connecting.GetByLabel("Message", new() { Exact = true }).FillAsync("Typed early");
        await connecting.GetByLabel("Message", new() { Exact = true }).PressAsync("Enter");
        await Assertions.Expect(connecting.GetByRole(AriaRole.Status)).ToContainTextAsync("sent as soon as the page is live");

        // Once live, the same words are sent once and answered.
        await chat.LastReplyStats.WaitForAsync(new() { Timeout = 30_000 });
        Assert.Equal(0, await connecting.CountAsync());
        Assert.Equal(["Typed early"], await chat.UserMessages.AllInnerTextsAsync());
    }

    [Fact]
    public async Task Model_being_downloaded_is_shown_and_the_page_enables_itself_when_it_arrives()
    {
        await using var ollama = await OllamaTestServer.StartAsync();
        var api = new ApiApplication([new ModelOptions { Id = DownloadingModel, Backend = "ollama", Endpoint = ollama.Endpoint.ToString() }]);
        var dashboard = "http://localhost:15080/consolelogs/resource/tiny-1b";
        var web = stack.StartWebFor(api, new Dictionary<string, string?> { ["ModelDownload:DashboardUrl"] = dashboard });
        await using var chat = await stack.OpenChatAsync(web);

        var banner = chat.Page.Locator(".status-banners .model-download");
        await banner.WaitForAsync();
        Assert.Contains($"{DownloadingModel} is being downloaded or loaded.", await banner.InnerTextAsync(), StringComparison.Ordinal);
        Assert.Contains("is not pulled yet", await banner.InnerTextAsync(), StringComparison.Ordinal);
        Assert.Equal(dashboard, await banner.GetByRole(AriaRole.Link, new() { Name = "Follow the download in the dashboard" }).GetAttributeAsync("href"));
        Assert.EndsWith("(not ready yet)", await chat.ModelPicker.Locator("option:checked").InnerTextAsync(), StringComparison.Ordinal);
        await chat.ScreenshotAsync("model-downloading");

        // Sending waits for the model; the draft stays and the reason shows under the box.
        var send = chat.Page.GetByRole(AriaRole.Button, new() { Name = "Send" });
        await Assertions.Expect(send).ToBeDisabledAsync();
        await chat.SendAsync("Are you there yet?");
        Assert.Equal("Are you there yet?", await chat.MessageBox.InputValueAsync());
        Assert.Contains("not ready yet", await chat.Page.Locator("#input-state").InnerTextAsync(), StringComparison.Ordinal);
        Assert.Equal(0, await chat.UserMessages.CountAsync());

        // A client that sends anyway is told to come back later, in OpenAI's envelope.
        using (var http = new HttpClient { BaseAddress = api.BaseAddress })
        {
            using var response = await http.PostAsJsonAsync("/v1/chat/completions", new JsonObject
            {
                ["model"] = DownloadingModel,
                ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "Hi" }),
            }, TestContext.Current.CancellationToken).WaitAsync(ApiCallTimeout, TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.NotNull(response.Headers.RetryAfter?.Delta);
            var error = JsonNode.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken))!["error"]!;
            Assert.Equal("model_loading", (string?)error["code"]);
        }

        // The download ends: the page notices by itself, and the kept draft can go out.
        ollama.AddModel(DownloadingModel);
        await Assertions.Expect(send).ToBeEnabledAsync(new() { Timeout = 30_000 });
        await Assertions.Expect(banner).ToHaveCountAsync(0);
        await chat.MessageBox.PressAsync("Enter");
        await chat.LastReplyStats.WaitForAsync();
        Assert.Equal(string.Concat(OllamaTestServer.ReplyTokens), await chat.LastReplyMarkdownAsync());
    }

    [Fact]
    public async Task Embedded_model_downloading_from_the_hub_shows_its_progress_and_the_page_enables_itself_once_it_is_loaded()
    {
        await using var hub = await HubFixture.StartAsync(models);
        var size = new FileInfo(models.Scripted).Length;
        hub.Hub.HoldAt = size / 2;
        const string model = "hub-scripted";
        var source = $"hf://{HubFixture.Repository}:Q8_0";
        var api = new ApiApplication([new ModelOptions { Id = model, Backend = "embedded", Source = source }], hub.Settings());
        var web = stack.StartWebFor(api);
        await using var chat = await stack.OpenChatAsync(web);

        // Held in the middle of the file: the banner tells how far the download is, in the API's words.
        var banner = chat.Page.Locator(".status-banners .model-download");
        await Assertions.Expect(banner).ToContainTextAsync($"{model} is being downloaded or loaded.");
        await Assertions.Expect(banner).ToContainTextAsync(
            new System.Text.RegularExpressions.Regex($"downloading {HubFixture.ScriptedFile} from {System.Text.RegularExpressions.Regex.Escape(source)}: {100 * (size / 2) / size}% of [0-9.]+ (KB|MB)"),
            new() { Timeout = 30_000 });
        Assert.EndsWith("(not ready yet)", await chat.ModelPicker.Locator("option:checked").InnerTextAsync(), StringComparison.Ordinal);
        await chat.ScreenshotAsync("embedded-model-downloading");
        var send = chat.Page.GetByRole(AriaRole.Button, new() { Name = "Send" });
        await Assertions.Expect(send).ToBeDisabledAsync();
        await chat.SendAsync("Are you there yet?");
        Assert.Equal("Are you there yet?", await chat.MessageBox.InputValueAsync());

        // Downloaded, verified, loaded: the page notices by itself, and the kept draft is answered by the model in-process.
        hub.Hub.Release();
        await Assertions.Expect(send).ToBeEnabledAsync(new() { Timeout = 30_000 });
        await Assertions.Expect(banner).ToHaveCountAsync(0);
        await chat.MessageBox.PressAsync("Enter");
        await chat.LastReplyStats.WaitForAsync();
        Assert.Equal(GeneratedModels.ScriptedReply, await chat.LastReplyMarkdownAsync());
        Assert.Equal(1, hub.Hub.Downloads);
    }
}
