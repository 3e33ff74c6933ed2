using Microsoft.Playwright;

namespace LlmStack.Tests.Browser;

/// <summary>The Web's sign-in page as a person uses it.</summary>
public sealed class SignInPage(IPage page)
{
    public IPage Page => page;

    public ILocator UserName => page.GetByLabel("User name", new() { Exact = true });

    public ILocator Password => page.GetByLabel("Password", new() { Exact = true });

    public ILocator SignInButton => page.GetByRole(AriaRole.Button, new() { Name = "Sign in", Exact = true });

    /// <summary>What went wrong (wrong password, locked, too many attempts, no account at the provider).</summary>
    public ILocator Alert => page.Locator(".account-message[role=alert]");

    public ILocator Status => page.Locator(".account-message[role=status]");

    public async Task GotoAsync(Uri web) => await page.GotoAsync(new Uri(web, "account/sign-in").ToString());

    /// <summary>Types the user name and password and presses the button, waiting for the answer page.</summary>
    public async Task SubmitAsync(string user, string password)
    {
        await UserName.FillAsync(user);
        await Password.FillAsync(password);
        await SignInButton.ClickAsync();
        await page.WaitForLoadStateAsync(LoadState.DOMContentLoaded);
    }

    /// <summary>Whether the browser is on the sign-in page (where a page without a session sends it).</summary>
    public bool IsShown => new Uri(page.Url).AbsolutePath == "/account/sign-in";
}
