using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LlmStack.Tests.Backends.Ollama;

/// <summary>
/// A small server speaking Ollama's protocol on loopback, whose behaviour is chosen by the model's name:
/// <list type="bullet">
/// <item><c>missing*</c>: not pulled (404 from /api/chat, /api/show, /api/embed).</item>
/// <item><c>busy*</c>: 429 with <c>Retry-After: 7</c>. <c>broken*</c>: 500 with an Ollama error body.</item>
/// <item><c>failing*</c>: streams a token, then an error line (the runner died mid-generation).</item>
/// <item><c>stalling*</c>: streams two tokens, then stalls until the client leaves.</item>
/// <item><c>holding*</c>: sends the stream's headers, then holds it before its first line until the client leaves.</item>
/// <item>anything else: pulled; replies <see cref="ReplyTokens"/> one line each, honouring <c>num_predict</c>.</item>
/// </list>
/// Every request body is recorded, and a client leaving a request is reported per model.
/// </summary>
public sealed class OllamaProtocolServer : IAsyncDisposable
{
    public static readonly string[] ReplyTokens = ["Hello", " from", " the", " Ollama", " test", " server", "."];

    /// <summary>The Modelfile parameters /api/show reports, as a real Ollama prints them.</summary>
    public const string ShownParameters = "num_ctx                        6144\nstop                           \"<|im_end|>\"";

    private readonly WebApplication _app;
    private readonly ConcurrentQueue<(string Path, JsonObject Body)> _requests = new();
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _abandoned = new();
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _holding = new();

    private OllamaProtocolServer(WebApplication app) => _app = app;

    public Uri Endpoint { get; private set; } = null!;

    public static async Task<OllamaProtocolServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var server = new OllamaProtocolServer(app);
        server.Map(app);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.Endpoint = new Uri(address);
        return server;
    }

    /// <summary>The bodies of the requests made to <paramref name="path"/> for <paramref name="model"/>.</summary>
    public IReadOnlyList<JsonObject> RequestsFor(string path, string model) =>
        [.. _requests.Where(r => r.Path == path && (string?)r.Body["model"] == model).Select(r => r.Body)];

    /// <summary>Completes when a client leaves a request for <paramref name="model"/> before it ended.</summary>
    public Task Abandoned(string model) => Signal(_abandoned, model).Task;

    /// <summary>Completes when a <c>holding*</c> request for <paramref name="model"/> has sent its headers and waits.</summary>
    public Task Holding(string model) => Signal(_holding, model).Task;

    private static TaskCompletionSource Signal(ConcurrentDictionary<string, TaskCompletionSource> signals, string model) =>
        signals.GetOrAdd(model, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

    private void Map(WebApplication app)
    {
        app.MapGet("/", () => "Ollama is running");
        app.MapGet("/api/tags", () => Results.Json(new JsonObject
        {
            ["models"] = new JsonArray(new JsonObject { ["name"] = "scripted:1b", ["model"] = "scripted:1b" }),
        }));
        app.MapPost("/api/show", async context =>
        {
            var body = await ReadAsync(context, "/api/show");
            if (await RefusedAsync(context, body))
            {
                return;
            }
            await context.Response.WriteAsJsonAsync(new JsonObject
            {
                ["modelfile"] = "FROM scripted",
                ["parameters"] = ShownParameters,
                ["template"] = "{{ .Prompt }}",
                ["details"] = new JsonObject { ["family"] = "qwen2", ["parameter_size"] = "1B" },
                ["model_info"] = new JsonObject { ["general.architecture"] = "qwen2", ["qwen2.context_length"] = 32768 },
            });
        });
        app.MapPost("/api/embed", async context =>
        {
            var body = await ReadAsync(context, "/api/embed");
            if (await RefusedAsync(context, body))
            {
                return;
            }
            var inputs = body["input"] is JsonArray array ? array.Select(i => (string)i!).ToList() : [(string)body["input"]!];
            await context.Response.WriteAsJsonAsync(new JsonObject
            {
                ["model"] = (string?)body["model"],
                ["embeddings"] = new JsonArray([.. inputs.Select(EmbeddingOf)]),
                ["prompt_eval_count"] = inputs.Sum(i => i.Length),
            });
        });
        app.MapPost("/api/chat", ChatAsync);
    }

    /// <summary>A deterministic vector per text, so that tests can tell which input became which embedding.</summary>
    public static JsonArray EmbeddingOf(string text) => [text.Length, 0.5, -1];

    private async Task ChatAsync(HttpContext context)
    {
        var body = await ReadAsync(context, "/api/chat");
        if (await RefusedAsync(context, body))
        {
            return;
        }
        var model = (string)body["model"]!;
        var stream = (bool?)body["stream"] ?? true;
        var promptTokens = body["messages"]!.AsArray().Sum(m => ((string?)m!["content"])?.Length ?? 0);
        var limit = (int?)body["options"]?["num_predict"] ?? int.MaxValue;
        var aborted = context.RequestAborted;
        try
        {
            if (model.StartsWith("holding", StringComparison.Ordinal))
            {
                // Headers first, as a server does once it has accepted the request: from here on only the
                // body read can notice a cancellation.
                context.Response.ContentType = "application/x-ndjson";
                await context.Response.StartAsync(aborted);
                await context.Response.Body.FlushAsync(aborted);
                Signal(_holding, model).TrySetResult();
                await Task.Delay(Timeout.Infinite, aborted);
            }
            if (model.StartsWith("stalling", StringComparison.Ordinal))
            {
                context.Response.ContentType = "application/x-ndjson";
                await WriteLineAsync(context, Line(model, "Let me", done: false), aborted);
                await WriteLineAsync(context, Line(model, " think", done: false), aborted);
                await Task.Delay(Timeout.Infinite, aborted);
            }

            if (model.StartsWith("failing", StringComparison.Ordinal))
            {
                // What Ollama sends when the runner dies mid-generation: an error line in place of the next chunk.
                context.Response.ContentType = "application/x-ndjson";
                await WriteLineAsync(context, Line(model, "Half", done: false), aborted);
                await WriteLineAsync(context, new JsonObject { ["error"] = "an error was encountered while running the model: unexpected EOF" }, aborted);
                return;
            }

            var tokens = ReplyTokens.Take(limit).ToArray();
            var doneReason = tokens.Length < ReplyTokens.Length ? "length" : "stop";
            if (!stream)
            {
                var reply = Line(model, string.Concat(tokens), done: true);
                AddDone(reply, doneReason, promptTokens, tokens.Length);
                await context.Response.WriteAsJsonAsync(reply, aborted);
                return;
            }
            context.Response.ContentType = "application/x-ndjson";
            foreach (var token in tokens)
            {
                await WriteLineAsync(context, Line(model, token, done: false), aborted);
            }
            var last = Line(model, "", done: true);
            AddDone(last, doneReason, promptTokens, tokens.Length);
            await WriteLineAsync(context, last, aborted);
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            Signal(_abandoned, model).TrySetResult();
        }
    }

    private async Task<JsonObject> ReadAsync(HttpContext context, string path)
    {
        var body = (await JsonSerializer.DeserializeAsync<JsonObject>(context.Request.Body))!;
        _requests.Enqueue((path, body));
        return body;
    }

    private static async Task<bool> RefusedAsync(HttpContext context, JsonObject body)
    {
        var model = (string?)body["model"] ?? "";
        if (model.StartsWith("missing", StringComparison.Ordinal))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            await context.Response.WriteAsJsonAsync(new JsonObject { ["error"] = $"model '{model}' not found" });
            return true;
        }
        if (model.StartsWith("busy", StringComparison.Ordinal))
        {
            context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
            context.Response.Headers.RetryAfter = "7";
            await context.Response.WriteAsJsonAsync(new JsonObject { ["error"] = "server busy, please try again. maximum pending requests exceeded" });
            return true;
        }
        if (model.StartsWith("broken", StringComparison.Ordinal))
        {
            context.Response.StatusCode = StatusCodes.Status500InternalServerError;
            await context.Response.WriteAsJsonAsync(new JsonObject { ["error"] = "llama runner process has terminated: exit status 2" });
            return true;
        }
        return false;
    }

    private static JsonObject Line(string model, string content, bool done) => new()
    {
        ["model"] = model,
        ["created_at"] = "2026-01-01T00:00:00.000000Z",
        ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = content },
        ["done"] = done,
    };

    private static void AddDone(JsonObject line, string doneReason, int promptTokens, int completionTokens)
    {
        line["done_reason"] = doneReason;
        line["total_duration"] = 5_000_000;
        line["load_duration"] = 1_000_000;
        line["prompt_eval_count"] = promptTokens;
        line["prompt_eval_duration"] = 1_000_000;
        line["eval_count"] = completionTokens;
        line["eval_duration"] = 3_000_000;
    }

    private static async Task WriteLineAsync(HttpContext context, JsonObject line, CancellationToken cancellationToken)
    {
        await context.Response.WriteAsync(line.ToJsonString() + "\n", cancellationToken);
        await context.Response.Body.FlushAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        using var stopping = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await _app.StopAsync(stopping.Token);
        await _app.DisposeAsync();
    }
}
