using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace LlmStack.Tests.Fixtures;

/// <summary>
/// A server speaking Ollama's protocol on loopback, for the Ollama backend (<c>/api/chat</c>, <c>/api/generate</c>, <c>/api/embed</c>,
/// <c>/api/show</c>) and for the AppHost's model management (<c>/</c>, <c>/api/tags</c>, <c>/api/show</c>,
/// <c>/api/pull</c>).
/// <para>
/// It has the models it was started with and those pulled since: any other model is not found (404 from
/// <c>/api/show</c>, <c>/api/chat</c>, <c>/api/embed</c>) and is not listed by <c>/api/tags</c>. A pull streams
/// progress the way Ollama does and stops halfway until <see cref="FinishPulls"/> is called, so that a test can
/// look at a download in progress; with <see cref="PullError"/> set, it fails instead.
/// </para>
/// A model it has behaves by its name:
/// <list type="bullet">
/// <item><c>busy*</c>: 429 with <c>Retry-After: 7</c>. <c>broken*</c>: 500 with an Ollama error body.</item>
/// <item><c>truncating*</c>: streams a token, then ends the body without the done line.</item>
/// <item><c>dying*</c>: streams a token, then resets the connection (the server killed mid-reply).</item>
/// <item><c>garbage*</c>: answers 200 with a body that is not Ollama's protocol.</item>
/// <item><c>failing*</c>: streams a token, then an error line (the runner died mid-generation).</item>
/// <item><c>stalling*</c>: streams two tokens, then stalls until the client leaves.</item>
/// <item><c>holding*</c>: sends the stream's headers, then holds it before its first line until the client leaves.</item>
/// <item>anything else: replies <see cref="ReplyTokens"/> one line each, honouring <c>num_predict</c> (and <c>logprobs</c>/<c>top_logprobs</c>, as Ollama does).</item>
/// </list>
/// Every request body is recorded, and a client leaving a request is reported per model.
/// </summary>
public sealed class OllamaTestServer : IAsyncDisposable
{
    public static readonly string[] ReplyTokens = ["Hello", " from", " the", " Ollama", " test", " server", "."];

    /// <summary>What a <c>thinking*</c> model sends as <c>message.thinking</c> before its reply, as Ollama does for reasoning models.</summary>
    public static readonly string[] ThinkingTokens = ["The", " user", " says", " hello", "."];

    /// <summary>The Modelfile parameters /api/show reports, as a real Ollama prints them.</summary>
    public const string ShownParameters = "num_ctx                        6144\nstop                           \"<|im_end|>\"";

    private const long LayerSize = 4_683_087_332;
    private const string LayerDigest = "sha256:2bada8a7450677000f678be90653b85d364de7db25eb5ea54136ada5f3933730";

    private readonly ConcurrentDictionary<string, bool> _models = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<(string Path, JsonObject Body)> _requests = new();
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _abandoned = new();
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _holding = new();
    private readonly TaskCompletionSource _finishPulls = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private LoopbackWebServer _server = null!;
    private int _pullCount;

    private OllamaTestServer(IEnumerable<string> models)
    {
        foreach (var model in models)
        {
            _models[model] = true;
        }
    }

    /// <summary>The server's root URL, what Ollama's clients take as their base address.</summary>
    public Uri Endpoint => _server.RootAddress;

    /// <summary>The models the server has: those it was started with and those pulled since.</summary>
    public IReadOnlyCollection<string> Models => [.. _models.Keys];

    public int PullCount => _pullCount;

    /// <summary>When set, pulls fail the way Ollama reports it in a stream: an <c>error</c> line.</summary>
    public string? PullError { get; set; }

    /// <summary>Starts a server that has <paramref name="models"/> (pulled before the test began).</summary>
    public static Task<OllamaTestServer> StartAsync(params string[] models) => StartAsync(endpoint: null, models);

    /// <summary>Starts a server listening on <paramref name="endpoint"/> (a free loopback port when null).</summary>
    public static async Task<OllamaTestServer> StartAsync(IPEndPoint? endpoint, params string[] models)
    {
        var server = new OllamaTestServer(models);
        server._server = await LoopbackWebServer.StartAsync(server.Map, endpoint);
        return server;
    }

    /// <summary>Gives the server <paramref name="model"/>, as a pull by someone else would when it ends.</summary>
    public void AddModel(string model) => _models[model] = true;

    /// <summary>Lets every pull, current and future, run to completion.</summary>
    public void FinishPulls() => _finishPulls.TrySetResult();

    /// <summary>The bodies of the requests made to <paramref name="path"/> for <paramref name="model"/>.</summary>
    public IReadOnlyList<JsonObject> RequestsFor(string path, string model) =>
        [.. _requests.Where(r => r.Path == path && ModelOf(r.Body) == model).Select(r => r.Body)];

    /// <summary>Completes when a client leaves a request for <paramref name="model"/> before it ended.</summary>
    public Task Abandoned(string model) => Signal(_abandoned, model).Task;

    /// <summary>Completes when a <c>holding*</c> request for <paramref name="model"/> has sent its headers and waits.</summary>
    public Task Holding(string model) => Signal(_holding, model).Task;

    /// <summary>A deterministic vector per text, so that tests can tell which input became which embedding.</summary>
    public static JsonArray EmbeddingOf(string text) => [text.Length, 0.5, -1];

    private static TaskCompletionSource Signal(ConcurrentDictionary<string, TaskCompletionSource> signals, string model) =>
        signals.GetOrAdd(model, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

    private void Map(IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/", () => "Ollama is running");
        endpoints.MapGet("/api/tags", () => Results.Json(new JsonObject
        {
            ["models"] = new JsonArray([.. _models.Keys.Select(name => new JsonObject
            {
                ["name"] = name,
                ["model"] = name,
                ["size"] = LayerSize,
                ["modified_at"] = "2026-01-01T00:00:00Z",
            })]),
        }));
        endpoints.MapPost("/api/show", ShowAsync);
        endpoints.MapPost("/api/embed", EmbedAsync);
        endpoints.MapPost("/api/chat", ChatAsync);
        endpoints.MapPost("/api/generate", GenerateAsync);
        endpoints.MapPost("/api/pull", PullAsync);
    }

    private async Task ShowAsync(HttpContext context)
    {
        var body = await ReadAsync(context);
        if (await RefusedAsync(context, body))
        {
            return;
        }
        await context.Response.WriteAsJsonAsync(new JsonObject
        {
            ["modelfile"] = $"FROM {ModelOf(body)}",
            ["parameters"] = ShownParameters,
            ["template"] = "{{ .Prompt }}",
            ["details"] = new JsonObject { ["format"] = "gguf", ["family"] = "qwen2", ["parameter_size"] = "1B" },
            ["model_info"] = new JsonObject { ["general.architecture"] = "qwen2", ["qwen2.context_length"] = 32768 },
        }, context.RequestAborted);
    }

    private async Task EmbedAsync(HttpContext context)
    {
        var body = await ReadAsync(context);
        if (await RefusedAsync(context, body))
        {
            return;
        }
        var inputs = body["input"] is JsonArray array ? array.Select(i => (string)i!).ToList() : [(string)body["input"]!];
        await context.Response.WriteAsJsonAsync(new JsonObject
        {
            ["model"] = ModelOf(body),
            ["embeddings"] = new JsonArray([.. inputs.Select(EmbeddingOf)]),
            ["prompt_eval_count"] = inputs.Sum(i => i.Length),
        }, context.RequestAborted);
    }

    private async Task ChatAsync(HttpContext context)
    {
        var body = await ReadAsync(context);
        if (await RefusedAsync(context, body))
        {
            return;
        }
        var model = ModelOf(body);
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
                await WriteLineAsync(context, Line(model, "Let me", done: false));
                await WriteLineAsync(context, Line(model, " think", done: false));
                await Task.Delay(Timeout.Infinite, aborted);
            }

            if (model.StartsWith("dying", StringComparison.Ordinal))
            {
                // The server process killed mid-reply: the connection is reset, no end of body, no done line.
                context.Response.ContentType = "application/x-ndjson";
                await WriteLineAsync(context, Line(model, "Half", done: false));
                await Task.Delay(100, aborted);
                context.Abort();
                return;
            }
            if (model.StartsWith("garbage", StringComparison.Ordinal))
            {
                // Something that is not Ollama answering on its port.
                context.Response.ContentType = "application/x-ndjson";
                await context.Response.WriteAsync("<html><body>502 Bad Gateway</body></html>\n", aborted);
                return;
            }
            if (model.StartsWith("truncating", StringComparison.Ordinal))
            {
                // The server going away mid-reply: the body ends cleanly, without the done line.
                context.Response.ContentType = "application/x-ndjson";
                await WriteLineAsync(context, Line(model, "Half", done: false));
                return;
            }
            if (model.StartsWith("failing", StringComparison.Ordinal))
            {
                // What Ollama sends when the runner dies mid-generation: an error line in place of the next chunk.
                context.Response.ContentType = "application/x-ndjson";
                await WriteLineAsync(context, Line(model, "Half", done: false));
                await WriteLineAsync(context, new JsonObject { ["error"] = "an error was encountered while running the model: unexpected EOF" });
                return;
            }

            var tokens = ReplyTokens.Take(limit).ToArray();
            var doneReason = tokens.Length < ReplyTokens.Length ? "length" : "stop";
            var thinking = model.StartsWith("thinking", StringComparison.Ordinal) ? ThinkingTokens : [];
            // Asked for ("logprobs": true, "top_logprobs": k), Ollama's chat carries them as its generate does: on each
            // streamed line its tokens', on a whole reply every token's.
            var logprobs = (bool?)body["logprobs"] == true;
            var top = (int?)body["top_logprobs"] ?? 0;
            if (!stream)
            {
                var reply = Line(model, string.Concat(tokens), done: true);
                if (thinking.Length > 0)
                {
                    reply["message"]!["thinking"] = string.Concat(thinking);
                }
                if (logprobs)
                {
                    reply["logprobs"] = new JsonArray([.. tokens.Select((token, i) => (JsonNode)LogprobOf(token, i, top))]);
                }
                AddDone(reply, doneReason, promptTokens, tokens.Length);
                await context.Response.WriteAsJsonAsync(reply, aborted);
                return;
            }
            context.Response.ContentType = "application/x-ndjson";
            foreach (var token in thinking)
            {
                var line = Line(model, "", done: false);
                line["message"]!["thinking"] = token;
                await WriteLineAsync(context, line);
            }
            for (var i = 0; i < tokens.Length; i++)
            {
                var line = Line(model, tokens[i], done: false);
                if (logprobs)
                {
                    line["logprobs"] = new JsonArray(LogprobOf(tokens[i], i, top));
                }
                await WriteLineAsync(context, line);
            }
            var last = Line(model, "", done: true);
            AddDone(last, doneReason, promptTokens, tokens.Length);
            await WriteLineAsync(context, last);
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            Signal(_abandoned, model).TrySetResult();
        }
    }

    // Text completions: the reply's tokens as "response" lines; the prompt is counted one token per character. Asked for
    // ("logprobs": true, "top_logprobs": k), each line carries its token's log probability and k alternatives, as Ollama's
    // API does.
    private async Task GenerateAsync(HttpContext context)
    {
        var body = await ReadAsync(context);
        if (await RefusedAsync(context, body))
        {
            return;
        }
        var model = ModelOf(body);
        var tokens = ReplyTokens.Take((int?)body["options"]?["num_predict"] ?? int.MaxValue).ToArray();
        context.Response.ContentType = "application/x-ndjson";
        var logprobs = (bool?)body["logprobs"] == true;
        var top = (int?)body["top_logprobs"] ?? 0;
        for (var i = 0; i < tokens.Length; i++)
        {
            var line = GenerateLine(model, tokens[i], done: false);
            if (logprobs)
            {
                line["logprobs"] = new JsonArray(LogprobOf(tokens[i], i, top));
            }
            await WriteLineAsync(context, line);
        }
        var last = GenerateLine(model, "", done: true);
        AddDone(last, tokens.Length < ReplyTokens.Length ? "length" : "stop", ((string?)body["prompt"])?.Length ?? 0, tokens.Length);
        await WriteLineAsync(context, last);
    }

    /// <summary>
    /// Ollama's <c>logprobs</c> entry of the <paramref name="index"/>th token: its log probability (below 0, lower for
    /// later tokens), UTF-8 bytes, and the <paramref name="top"/> most likely tokens, most likely first - the chosen one,
    /// then made-up alternatives each less likely than the last.
    /// </summary>
    public static JsonObject LogprobOf(string token, int index, int top)
    {
        var logprob = -0.125 * (index + 1);
        JsonObject Entry(string text, double value) => new()
        {
            ["token"] = text,
            ["logprob"] = value,
            ["bytes"] = new JsonArray([.. System.Text.Encoding.UTF8.GetBytes(text).Select(b => (JsonNode)(int)b)]),
        };
        var entry = Entry(token, logprob);
        entry["top_logprobs"] = new JsonArray([.. Enumerable.Range(0, top).Select(k => (JsonNode)(k == 0 ? Entry(token, logprob) : Entry($"alt{k}", logprob - k)))]);
        return entry;
    }

    private static JsonObject GenerateLine(string model, string response, bool done) => new()
    {
        ["model"] = model,
        ["created_at"] = "2026-01-01T00:00:00.000000Z",
        ["response"] = response,
        ["done"] = done,
    };

    private async Task PullAsync(HttpContext context)
    {
        var model = ModelOf(await ReadAsync(context));
        Interlocked.Increment(ref _pullCount);
        context.Response.ContentType = "application/x-ndjson";
        await WriteLineAsync(context, new JsonObject { ["status"] = "pulling manifest" });
        if (PullError is { } error)
        {
            await WriteLineAsync(context, new JsonObject { ["error"] = error });
            return;
        }
        foreach (var fraction in new[] { 0.0, 0.25, 0.5 })
        {
            await WriteProgressAsync(context, fraction);
        }
        await _finishPulls.Task.WaitAsync(context.RequestAborted);
        await WriteProgressAsync(context, 1.0);
        await WriteLineAsync(context, new JsonObject { ["status"] = "verifying sha256 digest" });
        await WriteLineAsync(context, new JsonObject { ["status"] = "writing manifest" });
        _models[model] = true;
        await WriteLineAsync(context, new JsonObject { ["status"] = "success" });
    }

    private static Task WriteProgressAsync(HttpContext context, double fraction) =>
        WriteLineAsync(context, new JsonObject
        {
            ["status"] = $"pulling {LayerDigest[7..19]}",
            ["digest"] = LayerDigest,
            ["total"] = LayerSize,
            ["completed"] = (long)(LayerSize * fraction),
        });

    private async Task<JsonObject> ReadAsync(HttpContext context)
    {
        var body = (await JsonSerializer.DeserializeAsync<JsonObject>(context.Request.Body, cancellationToken: context.RequestAborted))!;
        _requests.Enqueue((context.Request.Path, body));
        return body;
    }

    /// <summary>Ollama's clients name the model <c>model</c>, or <c>name</c> in older ones.</summary>
    private static string ModelOf(JsonObject body) => (string?)body["model"] ?? (string?)body["name"] ?? "";

    private async Task<bool> RefusedAsync(HttpContext context, JsonObject body)
    {
        var model = ModelOf(body);
        if (!_models.ContainsKey(model))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            await context.Response.WriteAsJsonAsync(new JsonObject { ["error"] = $"model '{model}' not found" }, context.RequestAborted);
            return true;
        }
        if (model.StartsWith("busy", StringComparison.Ordinal))
        {
            context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
            context.Response.Headers.RetryAfter = "7";
            await context.Response.WriteAsJsonAsync(new JsonObject { ["error"] = "server busy, please try again. maximum pending requests exceeded" }, context.RequestAborted);
            return true;
        }
        if (model.StartsWith("broken", StringComparison.Ordinal))
        {
            context.Response.StatusCode = StatusCodes.Status500InternalServerError;
            await context.Response.WriteAsJsonAsync(new JsonObject { ["error"] = "llama runner process has terminated: exit status 2" }, context.RequestAborted);
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

    private static async Task WriteLineAsync(HttpContext context, JsonObject line)
    {
        await context.Response.WriteAsync(line.ToJsonString() + "\n", context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
    }

    public async ValueTask DisposeAsync()
    {
        _finishPulls.TrySetCanceled();
        await _server.DisposeAsync();
    }
}
