extern alias apphost;

using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using LlmStack.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace LlmStack.Tests.EndToEnd;

/// <summary>
/// The model resource's life against an Ollama server (a fake one, in external mode): pulled once the server
/// is healthy, progress as its state, logs in its log, healthy once Ollama has it - and the API and the Web
/// answering from the start, the API saying "model is loading" until then.
/// </summary>
public sealed class OllamaModelPullTests : IDisposable
{
    private const string Model = "tiny:1b";
    private const string ModelResource = "tiny-1b";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    /// <summary>Each test's AppHost run has a Web data directory of its own (xUnit makes an instance per test).</summary>
    private readonly AppHostWebData _webData = new();

    [Fact]
    public async Task Model_is_pulled_with_progress_while_api_and_web_already_answer()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        await using var ollama = await OllamaTestServer.StartAsync();
        var started = Stopwatch.StartNew();
        await using var app = await StartAsync(ollama, cancellationToken);

        // The pull cannot finish before FinishPulls: everything below happens while the model is missing.
        await app.ResourceNotifications.WaitForResourceAsync(
            ModelResource, e => e.Snapshot.State?.Text == $"Downloading {Model} 50%", cancellationToken).WaitAsync(Timeout, cancellationToken);
        await app.ResourceNotifications.WaitForResourceHealthyAsync("web", cancellationToken).WaitAsync(Timeout, cancellationToken);
        TestContext.Current.TestOutputHelper?.WriteLine($"The chat page answered {started.Elapsed.TotalSeconds:0.0} s after the AppHost started, the model still downloading.");

        using var web = app.CreateHttpClient("web");
        using var page = await web.GetAsync("/", cancellationToken).WaitAsync(Timeout, cancellationToken);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        // The page answers - with its sign-in, the session it needs being the person's to start.
        Assert.Equal("/account/sign-in", page.RequestMessage?.RequestUri?.AbsolutePath);
        Assert.Contains("_framework/blazor.web", await page.Content.ReadAsStringAsync(cancellationToken), StringComparison.Ordinal);

        using var api = app.CreateHttpClient("api");
        using (var loading = await ChatAsync(api, cancellationToken))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, loading.StatusCode);
            Assert.Equal(TimeSpan.FromSeconds(10), loading.Headers.RetryAfter?.Delta);
            var error = JsonNode.Parse(await loading.Content.ReadAsStringAsync(cancellationToken))!["error"]!;
            Assert.Equal("model_loading", (string?)error["code"]);
            Assert.StartsWith($"The model '{Model}' is loading", (string?)error["message"], StringComparison.Ordinal);
        }
        using (var notReady = await api.GetAsync("/readyz", cancellationToken).WaitAsync(Timeout, cancellationToken))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, notReady.StatusCode);
        }
        Assert.Equal(KnownResourceStates.Running, app.ResourceNotifications.TryGetCurrentState("api", out var apiState) ? apiState.Snapshot.State?.Text : null);

        ollama.FinishPulls();
        await app.ResourceNotifications.WaitForResourceHealthyAsync(ModelResource, cancellationToken).WaitAsync(Timeout, cancellationToken);

        // Readiness answers from a probe of the last few seconds: within them, it turns ready.
        var readyBy = DateTime.UtcNow + Readiness.CacheDuration + TimeSpan.FromSeconds(10);
        HttpStatusCode readiness;
        do
        {
            using var ready = await api.GetAsync("/readyz", cancellationToken).WaitAsync(Timeout, cancellationToken);
            readiness = ready.StatusCode;
            if (readiness != HttpStatusCode.OK)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(250), cancellationToken);
            }
        }
        while (readiness != HttpStatusCode.OK && DateTime.UtcNow < readyBy);
        Assert.Equal(HttpStatusCode.OK, readiness);
        using (var reply = await ChatAsync(api, cancellationToken))
        {
            Assert.Equal(HttpStatusCode.OK, reply.StatusCode);
            var completion = JsonNode.Parse(await reply.Content.ReadAsStringAsync(cancellationToken))!;
            Assert.Equal(string.Concat(OllamaTestServer.ReplyTokens), (string?)completion["choices"]![0]!["message"]!["content"]);
        }
        Assert.Equal([Model], ollama.Models);
        Assert.Equal(1, ollama.PullCount);
        await WaitForLogAsync(app, ModelResource, $"Pulled {Model}.", cancellationToken);
    }

    [Fact]
    public async Task Failed_pull_marks_the_model_failed_with_the_reason_in_its_log()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        await using var ollama = await OllamaTestServer.StartAsync();
        ollama.PullError = "pull model manifest: file does not exist";
        await using var app = await StartAsync(ollama, cancellationToken);

        await app.ResourceNotifications.WaitForResourceAsync(ModelResource, KnownResourceStates.FailedToStart, cancellationToken).WaitAsync(Timeout, cancellationToken);

        await WaitForLogAsync(app, ModelResource, "pull model manifest: file does not exist", cancellationToken);
        Assert.Empty(ollama.Models);
    }

    [Fact]
    public async Task Model_already_on_the_server_is_not_pulled_again()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        await using var ollama = await OllamaTestServer.StartAsync(Model);
        await using var app = await StartAsync(ollama, cancellationToken);

        await app.ResourceNotifications.WaitForResourceHealthyAsync(ModelResource, cancellationToken).WaitAsync(Timeout, cancellationToken);

        Assert.Equal(0, ollama.PullCount);
        await WaitForLogAsync(app, ModelResource, $"{Model} is already on ollama.", cancellationToken);
    }

    [Fact]
    public async Task Dashboard_commands_list_models_and_pull_again()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        await using var ollama = await OllamaTestServer.StartAsync(Model);
        ollama.FinishPulls();
        await using var app = await StartAsync(ollama, cancellationToken);
        await app.ResourceNotifications.WaitForResourceHealthyAsync(ModelResource, cancellationToken).WaitAsync(Timeout, cancellationToken);

        var list = await app.ResourceCommands.ExecuteCommandAsync("ollama", "list-models", cancellationToken).WaitAsync(Timeout, cancellationToken);
        var pull = await app.ResourceCommands.ExecuteCommandAsync(ModelResource, "pull-model", cancellationToken).WaitAsync(Timeout, cancellationToken);

        Assert.True(list.Success, list.Message);
        Assert.StartsWith($"{Model}  4.7 GB", list.Data?.Value);
        Assert.True(pull.Success, pull.Message);
        Assert.Equal(1, ollama.PullCount);
    }

    private static Task<HttpResponseMessage> ChatAsync(HttpClient api, CancellationToken cancellationToken) =>
        StartedStack.ChatAsync(api, Model, Timeout, cancellationToken);

    /// <summary>
    /// Builds the app and starts it without waiting: starting completes only once every resource has started,
    /// and a model pull may outlast that, which is what these tests look at.
    /// </summary>
    private async Task<DistributedApplication> StartAsync(OllamaTestServer ollama, CancellationToken cancellationToken)
    {
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<apphost::Projects.LlmStack_AppHost>(
            ["--Ollama:Mode=external", $"--Ollama:Url={ollama.Endpoint}", $"--Ollama:Model={Model}", "--Telemetry:OtlpExport=false", LlmStackAppFixture.ApiKeyArgument, LlmStackAppFixture.AdminPasswordArgument, _webData.Argument],
            cancellationToken);
        var app = await builder.BuildAsync(cancellationToken).WaitAsync(Timeout, cancellationToken);
        _ = app.StartAsync(cancellationToken);
        return app;
    }

    private static Task WaitForLogAsync(DistributedApplication app, string resource, string text, CancellationToken cancellationToken) =>
        StartedStack.WaitForLogAsync(app, resource, text, Timeout, cancellationToken);

    public void Dispose() => _webData.Dispose();
}
