using System.Net;
using System.Net.Sockets;
using LlmStack.Api.Backends;
using LlmStack.Api.Configuration;
using LlmStack.Api.Models;
using LlmStack.Api.Pipeline;
using LlmStack.Tests.Fixtures;
using Microsoft.Playwright;

namespace LlmStack.Tests.Browser;

/// <summary>
/// The whole chat path for browser tests, started once per test class: the API on real HTTP serving generated
/// embedded models (real llama.cpp inference with known replies), the Web UI on a real port pointing at it, and
/// Debian's Chromium driven by Playwright. Each test opens its own browser context, so its storage is its own.
/// </summary>
public sealed class ChatUiStack(GeneratedModels models) : IAsyncLifetime
{
    public const string ScriptedModel = "scripted";
    public const string LoopingModel = "looping";
    public const string HostileModel = "hostile";
    public const string ThinkingModel = "thinking";

    /// <summary>Debian's package; browser downloads are impossible here, and test.sh installs it.</summary>
    public const string ChromiumPath = "/usr/bin/chromium";

    public static readonly string[] ChromiumArgs =
    [
        "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync",
    ];

    private readonly List<IAsyncDisposable> _owned = [];
    private IPlaywright? _playwright;

    public ApiApplication Api { get; } = new(
    [
        new ModelOptions { Id = ScriptedModel, Backend = "embedded", Path = models.Scripted },
        new ModelOptions { Id = LoopingModel, Backend = "embedded", Path = models.Looping },
        new ModelOptions { Id = HostileModel, Backend = "embedded", Path = models.Hostile },
        new ModelOptions { Id = ThinkingModel, Backend = "embedded", Path = models.Thinking },
    ]);

    public WebUiApplication Web { get; private set; } = null!;

    public IBrowser Browser { get; private set; } = null!;

    /// <summary>Another Web UI in front of <paramref name="api"/>; both are stopped with the stack.</summary>
    public WebUiApplication StartWebFor(ApiApplication api, IReadOnlyDictionary<string, string?>? settings = null)
    {
        _owned.Add(api);
        return StartWeb(api.BaseAddress, settings);
    }

    /// <summary>A Web UI whose API address answers nothing (a port that was just closed).</summary>
    public WebUiApplication StartWebWithoutApi() => StartWeb(ClosedLoopbackAddress());

    private WebUiApplication StartWeb(Uri apiAddress, IReadOnlyDictionary<string, string?>? settings = null)
    {
        var web = new WebUiApplication(apiAddress, settings: settings);
        _owned.Add(web);
        return web;
    }

    public async ValueTask InitializeAsync()
    {
        if (!File.Exists(ChromiumPath))
        {
            throw new InvalidOperationException(
                $"The browser tests drive Debian's Chromium at {ChromiumPath}; install it (apt-get install chromium), as ./test.sh does.");
        }
        Web = new WebUiApplication(Api.BaseAddress);
        _ = Web.BaseAddress;
        _playwright = await Playwright.CreateAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Browser = await _playwright.Chromium.LaunchAsync(new()
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = ChromiumArgs,
        }).WaitAsync(TimeSpan.FromSeconds(60));
    }

    /// <summary>Opens the chat page in a fresh browser context and waits until it has loaded its conversations.</summary>
    public async Task<ChatPage> OpenChatAsync(
        WebUiApplication? web = null, ColorScheme colorScheme = ColorScheme.Light, int width = 1280, int height = 800)
    {
        var chat = await NewChatPageAsync(colorScheme, width, height);
        await chat.GotoAsync((web ?? Web).BaseAddress);
        return chat;
    }

    /// <summary>
    /// Opens the chat page in a fresh browser context and returns as soon as the browser has the page's first bytes,
    /// as a person who starts typing at once sees it: nothing waits for the page to be interactive.
    /// </summary>
    public async Task<ChatPage> OpenChatWithoutWaitingAsync(WebUiApplication? web = null)
    {
        var chat = await NewChatPageAsync(ColorScheme.Light, 1280, 800);
        await chat.Page.GotoAsync((web ?? Web).BaseAddress.ToString(), new() { WaitUntil = WaitUntilState.Commit });
        return chat;
    }

    /// <summary>A page in a fresh browser context (its own storage), allowed to use the clipboard.</summary>
    private async Task<ChatPage> NewChatPageAsync(ColorScheme colorScheme, int width, int height)
    {
        var context = await Browser.NewContextAsync(new()
        {
            ColorScheme = colorScheme,
            ViewportSize = new() { Width = width, Height = height },
            AcceptDownloads = true,
        });
        context.SetDefaultTimeout(20_000);
        return new ChatPage(await context.NewPageAsync());
    }

    public async ValueTask DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.CloseAsync();
        }
        _playwright?.Dispose();
        foreach (var owned in Enumerable.Reverse(_owned))
        {
            await owned.DisposeAsync();
        }
        if (Web is not null)
        {
            await Web.DisposeAsync();
        }
        await Api.DisposeAsync();
    }

    private static Uri ClosedLoopbackAddress()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return new Uri($"http://127.0.0.1:{port}/");
    }
}
