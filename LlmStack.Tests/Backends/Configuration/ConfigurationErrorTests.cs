using System.Net;
using LlmStack.Api;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace LlmStack.Tests.Backends.Configuration;

/// <summary>Each bad <c>LlmStack:Models</c> setting stops the API at start, with a message naming the key or file.</summary>
public sealed class ConfigurationErrorTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("llmstack-config-").FullName;

    public static TheoryData<string, string> BadSettings => new()
    {
        { "0:Id=a;0:Backend=vllm;0:Endpoint=http://localhost:8000/v1", "LlmStack:Models:0:Backend 'vllm' is not a backend; use one of: embedded, ollama, openai." },
        { "0:Id=a;0:Backend=ollama", "LlmStack:Models:0:Endpoint is required for the ollama backend" },
        { "0:Id=a;0:Backend=openai", "LlmStack:Models:0:Endpoint is required for the openai backend" },
        { "0:Id=a;0:Backend=ollama;0:Endpoint=localhost:11434", "LlmStack:Models:0:Endpoint 'localhost:11434' is not an absolute http(s) URL" },
        { "0:Id=a;0:Backend=openai;0:Endpoint=/v1", "LlmStack:Models:0:Endpoint '/v1' is not an absolute http(s) URL" },
        { "0:Id=a;0:Backend=openai;0:Endpoint=ftp://models.example/v1", "LlmStack:Models:0:Endpoint 'ftp://models.example/v1' is not an absolute http(s) URL" },
        { "0:Id=a;0:Backend=ollama;0:Endpoint=http://localhost:11434;1:Id=a;1:Backend=ollama;1:Endpoint=http://localhost:11434", "LlmStack:Models:1:Id 'a' is configured twice." },
        { "0:Backend=ollama;0:Endpoint=http://localhost:11434", "LlmStack:Models:0:Id is required" },
        { "0:Id=(none);0:Backend=ollama;0:Endpoint=http://localhost:11434", "LlmStack:Models:0:Id '(none)' is reserved" },
        { "0:Id=a;0:Backend=ollama;0:Endpoint=http://localhost:11434;0:ConnectTimeout=-00:00:01", "LlmStack:Models:0:ConnectTimeout must be positive" },
        { "0:Id=a;0:Backend=openai;0:Endpoint=http://localhost:8000/v1;0:FirstTokenTimeout=00:00:00", "LlmStack:Models:0:FirstTokenTimeout must be positive" },
        { "0:Id=a;0:Backend=ollama;0:Endpoint=http://localhost:11434;0:Ollama:NumCtx=0", "LlmStack:Models:0:Ollama:NumCtx must be a positive number of tokens" },
        { "0:Id=a;0:Backend=ollama;0:Endpoint=http://localhost:11434;0:Ollama:KeepAlive=forever", "LlmStack:Models:0:Ollama:KeepAlive 'forever' is not a duration Ollama understands" },
        { "0:Id=a;0:Backend=embedded", "LlmStack:Models:0:Path is required for the embedded backend" },
        { "0:Id=a;0:Backend=openai;0:Endpoint=http://a:8000/v1;0:Replicas:0:Endpoint=http://b:8000/v1", "LlmStack:Models:0:Replicas is set, and so is the model's own Endpoint, Path or Source" },
        { "0:Id=a;0:Backend=openai;0:Replicas:0:Endpoint=http://b:8000/v1;0:Replicas:1:Endpoint=localhost:8000", "LlmStack:Models:0:Replicas:1:Endpoint 'localhost:8000' is not an absolute http(s) URL" },
        { "0:Id=a;0:Backend=openai;0:Replicas:0:Endpoint=http://b:8000/v1;0:Replicas:0:Weight=0", "LlmStack:Models:0:Replicas:0:Weight must be 1 to 1000, not 0." },
        { "0:Id=a;0:Backend=openai;0:Replicas:0:Endpoint=http://b:8000/v1;0:Replicas:0:Priority=-1", "LlmStack:Models:0:Replicas:0:Priority must be 0 to 1000" },
        { "0:Id=a;0:Replicas:0:Backend=vllm;0:Replicas:0:Endpoint=http://b:8000/v1", "LlmStack:Models:0:Replicas:0:Backend 'vllm' is not a backend" },
        { "0:Id=a;0:Backend=openai;0:Replicas:0:Endpoint=http://b:8000/v1;0:Routing:FailuresToEject=0", "LlmStack:Models:0:Routing:FailuresToEject must be 1 to 1000, not 0." },
        { "0:Id=a;0:Backend=openai;0:Replicas:0:Endpoint=http://b:8000/v1;0:Routing:MaxEjectionTime=00:00:01", "LlmStack:Models:0:Routing:MaxEjectionTime '00:00:01' must be at least EjectionTime '00:00:05'." },
        { "0:Id=a;0:Backend=openai;0:Endpoint=http://b:8000/v1;0:Fallback=b", "LlmStack:Models:0:Fallback 'b' is not a configured model id; use one of: a." },
        { "0:Id=a;0:Backend=openai;0:Endpoint=http://b:8000/v1;0:Fallback=a", "LlmStack:Models:0:Fallback 'a' is the model itself" },
    };

    [Theory]
    [MemberData(nameof(BadSettings))]
    public async Task A_bad_setting_stops_the_api_at_start_naming_its_key(string settings, string expected) =>
        Assert.Contains(expected, await StartFailure(Parse(settings)));

    [Fact]
    public async Task A_missing_gguf_file_stops_the_api_naming_the_file()
    {
        var path = Path.Combine(_directory, "absent.gguf");

        Assert.Contains(path, await StartFailure(new() { ["0:Id"] = "a", ["0:Backend"] = "embedded", ["0:Path"] = path }));
    }

    [Fact]
    public async Task A_file_that_is_not_gguf_stops_the_api_naming_the_file()
    {
        var path = Path.Combine(_directory, "notes.gguf");
        File.WriteAllText(path, "These are notes, not weights.");

        Assert.Contains(path, await StartFailure(new() { ["0:Id"] = "a", ["0:Backend"] = "embedded", ["0:Path"] = path }));
    }

    private static Dictionary<string, string?> Parse(string settings) =>
        settings.Split(';').Select(pair => pair.Split('=', 2)).ToDictionary(pair => pair[0], pair => (string?)pair[1]);

    /// <summary>
    /// Starts the API's services with the settings (relative to <c>LlmStack:Models:</c>) and returns every message
    /// of the failure. The host is composed by the same two calls as Program.cs (<see cref="LlmStackApi"/>), rather than
    /// through WebApplicationFactory, which reports a failed start from the entry point's thread and sometimes loses
    /// the failure to an ObjectDisposedException of its own.
    /// </summary>
    private static async Task<string> StartFailure(Dictionary<string, string?> settings)
    {
        var builder = WebApplication.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(
            settings.Select(s => KeyValuePair.Create("LlmStack:Models:" + s.Key, s.Value)).Append(KeyValuePair.Create("OTEL_EXPORTER_OTLP_ENDPOINT", (string?)"")));
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        builder.AddLlmStackApi();
        await using var app = builder.Build();
        app.UseLlmStackApi();

        var error = await Assert.ThrowsAnyAsync<Exception>(() => app.StartAsync(TestContext.Current.CancellationToken));
        return string.Join("\n", Messages(error));
    }

    private static IEnumerable<string> Messages(Exception error)
    {
        for (Exception? current = error; current is not null; current = current.InnerException)
        {
            yield return current.Message;
            if (current is OptionsValidationException validation)
            {
                foreach (var failure in validation.Failures)
                {
                    yield return failure;
                }
            }
            if (current is AggregateException aggregate)
            {
                foreach (var inner in aggregate.InnerExceptions.SelectMany(Messages))
                {
                    yield return inner;
                }
            }
        }
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
