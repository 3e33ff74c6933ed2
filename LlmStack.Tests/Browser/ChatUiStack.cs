using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using LlmStack.Api.Configuration;
using LlmStack.Api.Pipeline;
using LlmStack.Tests.Fixtures;
using Microsoft.Playwright;
using Cookie = Microsoft.Playwright.Cookie;

namespace LlmStack.Tests.Browser;

/// <summary>
/// The whole chat path for browser tests, started once per test class: the API on real HTTP serving generated
/// embedded models (real llama.cpp inference with known replies), the Web UI on a real port pointing at it, and
/// Debian's Chromium driven by Playwright. Each test opens its own browser context, so its storage is its own; the
/// context starts signed in as the Web's administrator (signed in once per Web through its sign-in page, the session
/// cookie then given to each new context), as a person who signed in earlier comes back to the page.
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
    private readonly ConcurrentDictionary<Uri, Lazy<Task<Cookie[]>>> _sessions = new();
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
        web ??= Web;
        var chat = await NewChatPageAsync(web, colorScheme, width, height);
        await chat.GotoAsync(web.BaseAddress);
        return chat;
    }

    /// <summary>
    /// Opens the chat page in a fresh browser context and returns as soon as the browser has the page's first bytes,
    /// as a person who starts typing at once sees it: nothing waits for the page to be interactive.
    /// </summary>
    public async Task<ChatPage> OpenChatWithoutWaitingAsync(WebUiApplication? web = null)
    {
        web ??= Web;
        var chat = await NewChatPageAsync(web, ColorScheme.Light, 1280, 800);
        await chat.Page.GotoAsync(web.BaseAddress.ToString(), new() { WaitUntil = WaitUntilState.Commit });
        return chat;
    }

    /// <summary>A page in a fresh browser context (its own storage), signed in to <paramref name="web"/> as its administrator.</summary>
    private async Task<ChatPage> NewChatPageAsync(WebUiApplication web, ColorScheme colorScheme, int width, int height)
    {
        var session = await _sessions.GetOrAdd(web.BaseAddress, _ => new Lazy<Task<Cookie[]>>(() => SignInAsync(web))).Value;
        var page = await NewPageAsync(colorScheme, width, height);
        await page.Context.AddCookiesAsync(session);
        return new ChatPage(page);
    }

    /// <summary>A page in a fresh browser context with nothing in it: no session, no storage.</summary>
    public async Task<IPage> NewPageAsync(ColorScheme colorScheme = ColorScheme.Light, int width = 1280, int height = 800)
    {
        var context = await Browser.NewContextAsync(new()
        {
            ColorScheme = colorScheme,
            ViewportSize = new() { Width = width, Height = height },
            AcceptDownloads = true,
        });
        context.SetDefaultTimeout(20_000);
        return await context.NewPageAsync();
    }

    /// <summary>Signs in to <paramref name="web"/> as its administrator, as a person does, and returns the session's cookies.</summary>
    private async Task<Cookie[]> SignInAsync(WebUiApplication web)
    {
        var page = await NewPageAsync();
        try
        {
            var signIn = new SignInPage(page);
            await signIn.GotoAsync(web.BaseAddress);
            await signIn.SubmitAsync(WebUiApplication.AdminUser, WebUiApplication.AdminPassword);
            await page.WaitForURLAsync(new Uri(web.BaseAddress, "/").ToString());
            return [.. (await page.Context.CookiesAsync()).Select(c => new Cookie
            {
                Name = c.Name, Value = c.Value, Domain = c.Domain, Path = c.Path, Expires = c.Expires,
                HttpOnly = c.HttpOnly, Secure = c.Secure, SameSite = c.SameSite,
            })];
        }
        finally
        {
            await page.Context.CloseAsync();
        }
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
