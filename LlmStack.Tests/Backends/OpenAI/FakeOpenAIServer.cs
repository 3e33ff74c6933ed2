using System.Text.Json.Nodes;
using LlmStack.Tests.Fixtures;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace LlmStack.Tests.Backends.OpenAI;

/// <summary>
/// An OpenAI-compatible upstream that fails the way real ones do, chosen by the model's name: <c>unauthorized</c>
/// (401), <c>gone</c> (404), <c>limited</c> (429, <c>Retry-After: 12</c>), <c>crashing</c> (500),
/// <c>overloaded</c> (503), <c>holding</c> (sends the stream's headers and never a chunk), <c>dying</c> (one chunk, then
/// the connection is reset), <c>garbage</c> (200 with a body that is no JSON). It lists
/// <see cref="ListedModels"/> at <c>/v1/models</c>.
/// </summary>
public sealed class FakeOpenAIServer : IAsyncDisposable
{
    public static readonly string[] ListedModels = ["unauthorized", "gone", "limited", "crashing", "overloaded", "holding", "dying", "cut", "garbage"];

    private readonly LoopbackWebServer _server;

    private FakeOpenAIServer(LoopbackWebServer server) => _server = server;

    /// <summary>The OpenAI root (<c>http://127.0.0.1:port/v1</c>).</summary>
    public Uri Endpoint => new(_server.RootAddress, "v1");

    public static async Task<FakeOpenAIServer> StartAsync() => new(await LoopbackWebServer.StartAsync(endpoints =>
    {
        endpoints.MapGet("/v1/models", () => Results.Json(new JsonObject
        {
            ["object"] = "list",
            ["data"] = new JsonArray([.. ListedModels.Select(id => new JsonObject { ["id"] = id, ["object"] = "model", ["created"] = 0, ["owned_by"] = "fake" })]),
        }));
        endpoints.MapPost("/v1/chat/completions", CompleteAsync);
        // Text completions fail alike.
        endpoints.MapPost("/v1/completions", CompleteAsync);
    }));

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
        if (model == "dying")
        {
            // The server process killed mid-stream: one chunk, then the connection is reset without [DONE].
            context.Response.ContentType = "text/event-stream";
            await context.Response.WriteAsync(
                "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":0,\"model\":\"dying\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Half\"},\"finish_reason\":null}]}\n\n");
            await context.Response.Body.FlushAsync();
            await Task.Delay(100);
            context.Abort();
            return;
        }
        if (model == "cut")
        {
            // A server that ends a reply it had begun with an error event, then [DONE]: another LlmStack drained or
            // at its time limit, vLLM or llama-server failing mid-generation.
            context.Response.ContentType = "text/event-stream";
            await context.Response.WriteAsync(
                "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":0,\"model\":\"cut\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Half\"},\"finish_reason\":null}]}\n\n" +
                "data: {\"error\":{\"message\":\"The server is shutting down: the reply was cut.\",\"type\":\"server_error\",\"param\":null,\"code\":\"server_shutting_down\"}}\n\n" +
                "data: [DONE]\n\n");
            return;
        }
        if (model == "garbage")
        {
            // Something that is not an OpenAI-compatible server answering 200 on its port.
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync("<html><body>It works!</body></html>");
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

    public ValueTask DisposeAsync() => _server.DisposeAsync();
}
