extern alias web;

using System.Net;
using LlmStack.Tests.Fixtures;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace LlmStack.Tests.Browser;

/// <summary>
/// Nothing of the chat page without signing in: the redirect to the sign-in page, wrong passwords and the lockout they
/// lead to, signing in and out, each person's own conversations on a shared browser, the administrator adding a user,
/// sign-in at an OpenID Connect provider, and the per-person chat budget - all in Chromium, as a person meets them.
/// </summary>
public sealed class SignInTests(ChatUiStack stack, GeneratedModels models) : IClassFixture<ChatUiStack>
{
    private const string Password = "a-password-of-a-person-0123";

    [Fact]
    public async Task The_chat_page_without_a_session_sends_the_browser_to_sign_in_and_back_after_it()
    {
        var page = await stack.NewPageAsync();
        await using var _ = page.Context;

        await page.GotoAsync(stack.Web.BaseAddress.ToString());

        var signIn = new SignInPage(page);
        Assert.True(signIn.IsShown, page.Url);
        Assert.Contains("returnUrl=%2F", page.Url, StringComparison.Ordinal);
        Assert.Equal(0, await page.Locator(".chat-app").CountAsync());
        await signIn.SubmitAsync(WebUiApplication.AdminUser, WebUiApplication.AdminPassword);
        var chat = new ChatPage(page);
        await chat.Page.Locator(".chat-app[data-loaded=true]").WaitForAsync();
        Assert.Equal(WebUiApplication.AdminUser, await page.Locator(".sidebar-account .account-name").InnerTextAsync());
    }

    [Fact]
    public async Task Nothing_but_the_sign_in_page_and_its_files_answers_without_a_session()
    {
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = stack.Web.BaseAddress };
        var cancellationToken = TestContext.Current.CancellationToken;

        foreach (var path in new[] { "/", "/admin/users", "/some/page" })
        {
            using var response = await http.GetAsync(path, cancellationToken);
            Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
            Assert.Equal("/account/sign-in", new Uri(stack.Web.BaseAddress, response.Headers.Location!).AbsolutePath);
        }
        // The interactive circuit is a hub of its own: it needs the session too.
        using var negotiate = await http.PostAsync("/_blazor/negotiate?negotiateVersion=1", null, cancellationToken);
        Assert.NotEqual(HttpStatusCode.OK, negotiate.StatusCode);
        using var signInPage = await http.GetAsync("/account/sign-in", cancellationToken);
        Assert.Equal(HttpStatusCode.OK, signInPage.StatusCode);
        using var script = await http.GetAsync("/_framework/blazor.web.js", cancellationToken);
        Assert.Equal(HttpStatusCode.OK, script.StatusCode);
        using var health = await http.GetAsync("/healthz", cancellationToken);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    [Fact]
    public async Task A_wrong_password_is_refused_and_repeated_ones_lock_the_account_even_against_the_right_one()
    {
        var web = stack.StartWebFor(NewApi(), new Dictionary<string, string?>
        {
            ["LlmStack:Accounts:MaxFailedAttempts"] = "3",
            ["LlmStack:Accounts:LockoutDuration"] = "00:10:00",
        });
        var page = await stack.NewPageAsync();
        await using var _ = page.Context;
        var signIn = new SignInPage(page);
        await signIn.GotoAsync(web.BaseAddress);

        await signIn.SubmitAsync(WebUiApplication.AdminUser, "not-the-password-at-all");
        Assert.Equal("Wrong user name or password.", await signIn.Alert.InnerTextAsync());
        Assert.True(signIn.IsShown);
        await signIn.SubmitAsync(WebUiApplication.AdminUser, "not-the-password-either");
        Assert.Equal("Wrong user name or password.", await signIn.Alert.InnerTextAsync());
        await signIn.SubmitAsync(WebUiApplication.AdminUser, "third-wrong-password");
        await signIn.SubmitAsync(WebUiApplication.AdminUser, WebUiApplication.AdminPassword);

        Assert.True(signIn.IsShown, page.Url);
        Assert.Contains("This account is locked after 3 wrong passwords in a row. Try again in 10 minutes", await signIn.Alert.InnerTextAsync());
        using var scope = web.Services.CreateScope();
        var users = scope.ServiceProvider.GetRequiredService<UserManager<IdentityUser>>();
        Assert.True(await users.IsLockedOutAsync((await users.FindByNameAsync(WebUiApplication.AdminUser))!));
    }

    [Fact]
    public async Task One_address_trying_many_sign_ins_is_slowed_down_whatever_the_account()
    {
        var web = stack.StartWebFor(NewApi(), new Dictionary<string, string?> { ["LlmStack:Accounts:AttemptsPerMinutePerAddress"] = "3" });
        var page = await stack.NewPageAsync();
        await using var _ = page.Context;
        var signIn = new SignInPage(page);
        await signIn.GotoAsync(web.BaseAddress);

        foreach (var user in new[] { "alice", "bob", "carol" })
        {
            await signIn.SubmitAsync(user, "guessed-password-123");
            Assert.Equal("Wrong user name or password.", await signIn.Alert.InnerTextAsync());
        }
        await signIn.SubmitAsync(WebUiApplication.AdminUser, WebUiApplication.AdminPassword);

        Assert.Matches(@"^Too many sign-in attempts from your address\. Try again in \d+ s\.$", await signIn.Alert.InnerTextAsync());
    }

    [Fact]
    public async Task A_person_signs_in_chats_and_signs_out_and_the_page_then_needs_a_sign_in_again()
    {
        var page = await stack.NewPageAsync();
        await using var _ = page.Context;
        var signIn = new SignInPage(page);
        await signIn.GotoAsync(stack.Web.BaseAddress);
        await signIn.SubmitAsync(WebUiApplication.AdminUser, WebUiApplication.AdminPassword);
        var chat = new ChatPage(page);
        await page.Locator(".chat-app[data-loaded=true]").WaitForAsync();
        await chat.PickModelAsync(ChatUiStack.ScriptedModel);

        await chat.SendAndWaitForReplyAsync("Hello after signing in");
        Assert.Equal(GeneratedModels.ScriptedReply, await chat.LastReplyMarkdownAsync());
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();

        await page.WaitForURLAsync("**/account/sign-in?signedOut=true");
        Assert.Equal("You have signed out.", await signIn.Status.InnerTextAsync());
        await page.GotoAsync(stack.Web.BaseAddress.ToString());
        Assert.True(signIn.IsShown, page.Url);
    }

    [Fact]
    public async Task A_second_person_on_the_same_browser_sees_none_of_the_first_ones_conversations()
    {
        var web = stack.StartWebFor(NewApi());
        await AddUserAsync(web, "first-person", Password);
        await AddUserAsync(web, "second-person", Password);
        var page = await stack.NewPageAsync();
        await using var _ = page.Context;
        var chat = new ChatPage(page);

        await SignInAsync(page, web, "first-person");
        await chat.PickModelAsync(ChatUiStack.ScriptedModel);
        await chat.SendAndWaitForReplyAsync("A secret of the first person");
        await SignOutAsync(page);
        await SignInAsync(page, web, "second-person");

        Assert.Equal(0, await chat.Conversations.CountAsync());
        Assert.Equal(0, await chat.UserMessages.CountAsync());
        // Not even the browser's storage shows it: what is there is encrypted for the first person.
        var stored = await page.EvaluateAsync<string>("() => JSON.stringify(Object.entries(localStorage))");
        Assert.Contains("llmstack.conversations.v2.", stored, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", stored, StringComparison.OrdinalIgnoreCase);

        await SignOutAsync(page);
        await SignInAsync(page, web, "first-person");
        Assert.Equal(1, await chat.Conversations.CountAsync());
        await chat.Conversations.First.ClickAsync();
        Assert.Equal("A secret of the first person", await chat.UserMessages.Last.InnerTextAsync());
    }

    [Fact]
    public async Task An_administrator_adds_a_user_who_can_then_sign_in_but_not_manage_users()
    {
        var web = stack.StartWebFor(NewApi());
        await using var admin = await stack.OpenChatAsync(web);
        await admin.Page.GetByRole(AriaRole.Link, new() { Name = "Users" }).ClickAsync();
        await admin.Page.WaitForURLAsync("**/admin/users");

        await admin.Page.GetByLabel("User name", new() { Exact = true }).FillAsync("carol");
        await admin.Page.GetByLabel("Password", new() { Exact = true }).FillAsync(Password);
        await admin.Page.GetByRole(AriaRole.Button, new() { Name = "Add user" }).ClickAsync();

        await Assertions.Expect(admin.Page.Locator(".account-message[role=status]")).ToHaveTextAsync("Added carol.");
        await Assertions.Expect(admin.Page.Locator("tr[data-user=carol]")).ToContainTextAsync("password");
        var page = await stack.NewPageAsync();
        await using var _ = page.Context;
        await SignInAsync(page, web, "carol");
        Assert.Equal("carol", await page.Locator(".sidebar-account .account-name").InnerTextAsync());
        Assert.Equal(0, await page.GetByRole(AriaRole.Link, new() { Name = "Users" }).CountAsync());
        await page.GotoAsync(new Uri(web.BaseAddress, "admin/users").ToString());
        Assert.Contains("/account/access-denied", page.Url, StringComparison.Ordinal);

        // Removed, carol's password no longer opens anything.
        await admin.Page.GetByRole(AriaRole.Button, new() { Name = "Remove carol" }).ClickAsync();
        await Assertions.Expect(admin.Page.Locator(".account-message[role=status]")).ToHaveTextAsync("Removed carol.");
        var again = await stack.NewPageAsync();
        await using var __ = again.Context;
        var signIn = new SignInPage(again);
        await signIn.GotoAsync(web.BaseAddress);
        await signIn.SubmitAsync("carol", Password);
        Assert.Equal("Wrong user name or password.", await signIn.Alert.InnerTextAsync());
    }

    [Fact]
    public async Task Sign_in_at_an_OpenID_Connect_provider_opens_the_page_for_an_account_the_administrator_added()
    {
        await using var provider = await TestOpenIdProvider.StartAsync();
        var web = stack.StartWebFor(NewApi(), new Dictionary<string, string?>
        {
            ["LlmStack:Accounts:Oidc:Authority"] = provider.Authority.AbsoluteUri,
            ["LlmStack:Accounts:Oidc:ClientId"] = TestOpenIdProvider.ClientId,
            ["LlmStack:Accounts:Oidc:ClientSecret"] = TestOpenIdProvider.ClientSecret,
            ["LlmStack:Accounts:Oidc:DisplayName"] = "Test provider",
            ["LlmStack:Accounts:Oidc:RequireHttpsMetadata"] = "false",
        });
        provider.AllowRedirect(new Uri(web.BaseAddress, "signin-oidc"));
        var page = await stack.NewPageAsync();
        await using var _ = page.Context;
        var signIn = new SignInPage(page);

        // Someone the provider knows but this server does not: turned away.
        await SignInAtProviderAsync(page, web, "stranger@example.test");
        Assert.True(signIn.IsShown, page.Url);
        Assert.Contains("there is no account here for you", await signIn.Alert.InnerTextAsync());

        // An account named by the email, made by an administrator without a password: the provider's sign-in opens it.
        using var scope = web.Services.CreateScope();
        var users = scope.ServiceProvider.GetRequiredService<UserManager<IdentityUser>>();
        Assert.True((await users.CreateAsync(new IdentityUser("dana@example.test") { Email = "dana@example.test" })).Succeeded);
        await SignInAtProviderAsync(page, web, "dana@example.test");

        await page.Locator(".chat-app[data-loaded=true]").WaitForAsync();
        Assert.Equal("dana@example.test", await page.Locator(".sidebar-account .account-name").InnerTextAsync());
        Assert.Equal(2, provider.TokensIssued);
        var dana = await users.FindByNameAsync("dana@example.test");
        Assert.Equal(["oidc"], (await users.GetLoginsAsync(dana!)).Select(l => l.LoginProvider));
        var chat = new ChatPage(page);
        await chat.PickModelAsync(ChatUiStack.ScriptedModel);
        await chat.SendAndWaitForReplyAsync("Hello from single sign-on");
        Assert.Equal(GeneratedModels.ScriptedReply, await chat.LastReplyMarkdownAsync());
    }

    [Fact]
    public async Task Chats_beyond_a_persons_budget_are_refused_with_the_time_to_wait()
    {
        var web = stack.StartWebFor(NewApi(), new Dictionary<string, string?> { ["LlmStack:Chat:RequestsPerMinute"] = "2" });
        await using var chat = await stack.OpenChatAsync(web);
        await chat.PickModelAsync(ChatUiStack.ScriptedModel);

        await chat.SendAndWaitForReplyAsync("One");
        await chat.SendAndWaitForReplyAsync("Two");
        await chat.SendAsync("Three");

        var refusal = chat.Replies.Nth(2).Locator("[role=alert]");
        await refusal.WaitForAsync();
        Assert.Matches(@"You have reached this server's limit of 2 messages a minute per person\. Try again in \d+ s\.", await refusal.InnerTextAsync());
        Assert.Equal(GeneratedModels.ScriptedReply, await chat.Replies.Nth(1).Locator("assistant-message").GetAttributeAsync("markdown"));
    }

    private ApiApplication NewApi() => new(
        [new LlmStack.Api.Configuration.ModelOptions { Id = ChatUiStack.ScriptedModel, Backend = "embedded", Path = models.Scripted }]);

    private static async Task AddUserAsync(WebUiApplication web, string name, string password)
    {
        using var scope = web.Services.CreateScope();
        var users = scope.ServiceProvider.GetRequiredService<UserManager<IdentityUser>>();
        var result = await users.CreateAsync(new IdentityUser(name), password);
        Assert.True(result.Succeeded, string.Join(" ", result.Errors.Select(e => e.Description)));
    }

    private static async Task SignInAsync(IPage page, WebUiApplication web, string user)
    {
        var signIn = new SignInPage(page);
        await signIn.GotoAsync(web.BaseAddress);
        await signIn.SubmitAsync(user, Password);
        await page.Locator(".chat-app[data-loaded=true]").WaitForAsync();
    }

    private static async Task SignOutAsync(IPage page)
    {
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        await page.WaitForURLAsync("**/account/sign-in?signedOut=true");
    }

    private static async Task SignInAtProviderAsync(IPage page, WebUiApplication web, string email)
    {
        await new SignInPage(page).GotoAsync(web.BaseAddress);
        await page.GetByRole(AriaRole.Link, new() { Name = "Sign in with Test provider" }).ClickAsync();
        try
        {
            await page.GetByLabel("Email").WaitForAsync(new() { Timeout = 10_000 });
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"{e.Message} at {page.Url}: {await page.ContentAsync()}", e);
        }
        await page.GetByLabel("Email").FillAsync(email);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in at the provider" }).ClickAsync();
        await page.WaitForURLAsync(url => !url.Contains("/authorize", StringComparison.Ordinal) && !url.Contains("signin-oidc", StringComparison.Ordinal)
            && !url.Contains("external-callback", StringComparison.Ordinal));
    }
}
