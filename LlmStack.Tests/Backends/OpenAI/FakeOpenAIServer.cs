using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LlmStack.Tests.Backends.OpenAI;

/// <summary>
/// An OpenAI-compatible upstream that fails the way real ones do, chosen by the model's name: <c>unauthorized</c>
/// (401), <c>gone</c> (404), <c>limited</c> (429, <c>Retry-After: 12</c>), <c>crashing</c> (500),
/// <c>overloaded</c> (503), <c>holding</c> (sends the stream's headers and never a chunk). It lists
/// <see cref="ListedModels"/> at <c>/v1/models</c>.
/// </summary>
public sealed class FakeOpenAIServer : IAsyncDisposable
{
    public static readonly string[] ListedModels = ["unauthorized", "gone", "limited", "crashing", "overloaded", "holding"];

    private readonly WebApplication _app;

    private FakeOpenAIServer(WebApplication app) => _app = app;

    /// <summary>The OpenAI root (<c>http://127.0.0.1:port/v1</c>).</summary>
    public Uri Endpoint { get; private init; } = null!;

    public static async Task<FakeOpenAIServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        app.MapGet("/v1/models", () => Results.Json(new JsonObject
        {
            ["object"] = "list",
            ["data"] = new JsonArray([.. ListedModels.Select(id => new JsonObject { ["id"] = id, ["object"] = "model", ["created"] = 0, ["owned_by"] = "fake" })]),
        }));
        app.MapPost("/v1/chat/completions", CompleteAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new FakeOpenAIServer(app) { Endpoint = new Uri(new Uri(address), "v1") };
    }

    private static async Task CompleteAsync(HttpContext context)
    {
        var body = (await context.Request.ReadFromJsonAsync<JsonObject>())!;
        var model = (string?)body["model"];
        if (model == "holding")
        {
            context.Response.ContentType = "text/event-stream";
            await context.Response.StartAsync();
            await context.Response.Body.FlushAsync();
            await Task.Delay(Timeout.Infinite, context.RequestAborted).ContinueWith(_ => { }, TaskScheduler.Default);
            return;
        }
        var (status, type, message) = model switch
        {
            "unauthorized" => (401, "invalid_request_error", "Incorrect API key provided: no-key."),
            "gone" => (404, "invalid_request_error", "The model `gone` does not exist."),
            "limited" => (429, "rate_limit_error", "Rate limit reached for requests."),
            "overloaded" => (503, "server_error", "The engine is currently overloaded."),
            _ => (500, "server_error", "The server had an error while processing your request."),
        };
        context.Response.StatusCode = status;
        if (status == 429)
        {
            context.Response.Headers.RetryAfter = "12";
        }
        await context.Response.WriteAsJsonAsync(new JsonObject
        {
            ["error"] = new JsonObject { ["message"] = message, ["type"] = type, ["param"] = null, ["code"] = null },
        });
    }

    public async ValueTask DisposeAsync()
    {
        using var stopping = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await _app.StopAsync(stopping.Token);
        await _app.DisposeAsync();
    }
}
