using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LlmStack.Tests.Fixtures;

/// <summary>
/// An Ollama server's model-management surface (<c>/</c>, <c>/api/show</c>, <c>/api/tags</c>, <c>/api/pull</c>)
/// on a free local port. A pull streams progress the way Ollama does and stops halfway until
/// <see cref="FinishPulls"/> is called, so a test can look at the state of a download in progress.
/// </summary>
public sealed class FakeOllamaServer : IAsyncDisposable
{
    private const long LayerSize = 4_683_087_332;

    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, bool> _models = new(StringComparer.Ordinal);
    private readonly TaskCompletionSource _finishPulls = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _pullCount;

    private FakeOllamaServer(WebApplication app) => _app = app;

    public Uri Url { get; private set; } = null!;

    /// <summary>Models pulled (or present from the start).</summary>
    public IReadOnlyCollection<string> Models => [.. _models.Keys];

    public int PullCount => _pullCount;

    /// <summary>When set, pulls fail the way Ollama reports it in a stream: an <c>error</c> line.</summary>
    public string? PullError { get; set; }

    public static async Task<FakeOllamaServer> StartAsync(params string[] presentModels)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var server = new FakeOllamaServer(app);
        foreach (var model in presentModels)
        {
            server._models[model] = true;
        }

        app.MapGet("/", () => "Ollama is running");
        app.MapPost("/api/show", server.ShowAsync);
        app.MapGet("/api/tags", () => Results.Json(new JsonObject
        {
            ["models"] = new JsonArray([.. server._models.Keys.Select(name => new JsonObject
            {
                ["name"] = name,
                ["model"] = name,
                ["size"] = LayerSize,
                ["modified_at"] = "2026-01-01T00:00:00Z",
            })]),
        }));
        app.MapPost("/api/pull", server.PullAsync);

        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
        server.Url = new Uri(address);
        return server;
    }

    /// <summary>Lets every pull, current and future, run to completion.</summary>
    public void FinishPulls() => _finishPulls.TrySetResult();

    private async Task<IResult> ShowAsync(HttpRequest request)
    {
        var model = await ModelOfAsync(request);
        return _models.ContainsKey(model)
            ? Results.Json(new JsonObject { ["modelfile"] = $"FROM {model}", ["details"] = new JsonObject { ["format"] = "gguf" } })
            : Results.Json(new JsonObject { ["error"] = $"model '{model}' not found" }, statusCode: 404);
    }

    private async Task PullAsync(HttpContext context)
    {
        var model = await ModelOfAsync(context.Request);
        Interlocked.Increment(ref _pullCount);
        context.Response.ContentType = "application/x-ndjson";
        await WriteAsync(context, new JsonObject { ["status"] = "pulling manifest" });
        if (PullError is { } error)
        {
            await WriteAsync(context, new JsonObject { ["error"] = error });
            return;
        }
        const string digest = "sha256:2bada8a7450677000f678be90653b85d364de7db25eb5ea54136ada5f3933730";
        foreach (var fraction in new[] { 0.0, 0.25, 0.5 })
        {
            await WriteProgressAsync(context, digest, fraction);
        }
        await _finishPulls.Task.WaitAsync(context.RequestAborted);
        await WriteProgressAsync(context, digest, 1.0);
        await WriteAsync(context, new JsonObject { ["status"] = "verifying sha256 digest" });
        await WriteAsync(context, new JsonObject { ["status"] = "writing manifest" });
        _models[model] = true;
        await WriteAsync(context, new JsonObject { ["status"] = "success" });
    }

    private static Task WriteProgressAsync(HttpContext context, string digest, double fraction) =>
        WriteAsync(context, new JsonObject
        {
            ["status"] = $"pulling {digest[7..19]}",
            ["digest"] = digest,
            ["total"] = LayerSize,
            ["completed"] = (long)(LayerSize * fraction),
        });

    private static async Task WriteAsync(HttpContext context, JsonObject line)
    {
        await context.Response.WriteAsync(line.ToJsonString() + "\n", context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
    }

    private static async Task<string> ModelOfAsync(HttpRequest request)
    {
        var body = await JsonSerializer.DeserializeAsync<JsonObject>(request.Body, cancellationToken: request.HttpContext.RequestAborted);
        return (string?)body?["model"] ?? (string?)body?["name"] ?? "";
    }

    public async ValueTask DisposeAsync()
    {
        _finishPulls.TrySetCanceled();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
