using LlmStack.Web.Accounts;
using LlmStack.Web.Api;
using LlmStack.Web.Chat;
using LlmStack.Web.Components;
using LlmStack.Web.Security;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddAccounts();
builder.AddLlmStackApi();
builder.AddChat();
builder.Services.AddRazorComponents()
    .AddInteractiveServerComponents();

var app = builder.Build();

if (!app.Environment.IsDevelopment())
{
    app.UseExceptionHandler("/Error", createScopeForErrors: true);
}
app.UseSecurityHeaders();
app.UseStatusCodePagesWithReExecute("/not-found", createScopeForStatusCodePages: true);
app.UseAuthentication();
app.UseAuthorization();
app.UseAntiforgery();

// Styles and scripts are public (the sign-in page needs them); every page and the interactive circuit need a user.
app.MapStaticAssets().AllowAnonymous();
app.MapRazorComponents<App>()
    .AddInteractiveServerRenderMode()
    .RequireAuthorization();
app.MapAccountEndpoints();
app.MapDefaultEndpoints(metricsPolicy: StackKeyAuthentication.MetricsPolicy, readinessDetailsPolicy: StackKeyAuthentication.KeyedCallerPolicy);

app.Run();
