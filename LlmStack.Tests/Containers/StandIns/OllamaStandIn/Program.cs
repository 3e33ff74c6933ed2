using System.Net;
using System.Net.Http.Json;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using LlmStack.Tests.Fixtures;

// The `ollama` command of the ollama/ollama image, as far as a deployment uses it:
//   ollama serve [model...]  Ollama's protocol on port 11434 of every address, with the models given (and those in
//                            OLLAMA_STANDIN_MODELS, comma-separated) already pulled; pulls of any other model complete
//                            at once. A model behaves by its name (OllamaTestServer: failing*, stalling*, ...).
//   ollama list              the server's models (the compose health check); fails when the server does not answer.
//   ollama pull <model>      a pull through the server's API, its progress printed (the compose pull job).
// The clients find the server as Ollama's CLI does: OLLAMA_HOST (host:port, 0.0.0.0 meaning this machine).
return args.FirstOrDefault() switch
{
    null or "serve" => await ServeAsync([.. args.Skip(1), .. (Environment.GetEnvironmentVariable("OLLAMA_STANDIN_MODELS") ?? "")
        .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)]),
    "list" => await ListAsync(),
    "pull" when args.Length == 2 => await PullAsync(args[1]),
    _ => Usage(),
};

static async Task<int> ServeAsync(string[] models)
{
    await using var server = await OllamaTestServer.StartAsync(new IPEndPoint(IPAddress.Any, 11434), models);
    server.FinishPulls();
    Console.WriteLine($"Ollama stand-in listening on {server.Endpoint} with {string.Join(", ", models)}");

    var stop = new TaskCompletionSource();
    using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
    {
        context.Cancel = true;
        stop.TrySetResult();
    });
    using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, context =>
    {
        context.Cancel = true;
        stop.TrySetResult();
    });
    await stop.Task;
    return 0;
}

static async Task<int> ListAsync()
{
    using var http = Client();
    try
    {
        var tags = await http.GetFromJsonAsync<JsonObject>("api/tags");
        Console.WriteLine("NAME");
        foreach (var model in tags?["models"]?.AsArray() ?? [])
        {
            Console.WriteLine((string?)model?["name"]);
        }
        return 0;
    }
    catch (HttpRequestException e)
    {
        Console.Error.WriteLine($"Error: could not connect to ollama server at {http.BaseAddress}: {e.Message}");
        return 1;
    }
}

static async Task<int> PullAsync(string model)
{
    using var http = Client();
    try
    {
        using var response = await http.PostAsJsonAsync("api/pull", new JsonObject { ["model"] = model, ["stream"] = true });
        if (!response.IsSuccessStatusCode)
        {
            Console.Error.WriteLine($"Error: pull model manifest: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            return 1;
        }
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var status = "";
        while (await reader.ReadLineAsync() is { } line)
        {
            var progress = JsonNode.Parse(line);
            if ((string?)progress?["error"] is { } error)
            {
                Console.Error.WriteLine($"Error: {error}");
                return 1;
            }
            status = (string?)progress?["status"] ?? status;
            Console.WriteLine(status);
        }
        return status == "success" ? 0 : Fail($"Error: the pull of {model} ended before it succeeded (last status: {status})");
    }
    catch (HttpRequestException e)
    {
        return Fail($"Error: could not connect to ollama server at {http.BaseAddress}: {e.Message}");
    }
}

static HttpClient Client()
{
    var host = Environment.GetEnvironmentVariable("OLLAMA_HOST") is { Length: > 0 } set ? set : "127.0.0.1:11434";
    host = host.Contains("://", StringComparison.Ordinal) ? host : $"http://{host}";
    var address = new UriBuilder(host);
    if (address.Host == "0.0.0.0")
    {
        address.Host = "127.0.0.1";
    }
    return new HttpClient { BaseAddress = address.Uri, Timeout = TimeSpan.FromSeconds(30) };
}

static int Usage() => Fail("Usage: ollama serve [model...] | ollama list | ollama pull <model>");

static int Fail(string message)
{
    Console.Error.WriteLine(message);
    return 1;
}
