extern alias apphost;

using System.Net;
using System.Text.Json.Nodes;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using LlmStack.Tests.Backends.Embedded.Hub;
using LlmStack.Tests.Fixtures;

namespace LlmStack.Tests.EndToEnd;

/// <summary>
/// The AppHost on a machine without Ollama and with <c>Embedded:Model</c> naming a Hugging Face source (a local hub with
/// the real layout): the API downloads it, the dashboard shows the download as the model's state the way an Ollama
/// pull is shown, and once it is loaded the model answers chats in-process.
/// </summary>
public sealed class EmbeddedModelDownloadTests(GeneratedModels models) : IDisposable
{
    private const string Source = $"hf://{HubFixture.Repository}:Q8_0";
    private const string Model = $"{HubFixture.Repository}:Q8_0";
    private const string ModelResource = "scripted-gguf-q8-0";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);

    private readonly AppHostWebData _webData = new();

    [Fact]
    public async Task Dashboard_shows_the_download_as_the_model_s_state_then_the_model_chats()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        await using var hub = await HubFixture.StartAsync(models);
        var size = new FileInfo(models.Scripted).Length;
        hub.Hub.HoldAt = size / 2;
        await using var app = await StartAsync(hub, Source, cancellationToken);

        // The download cannot pass the middle of the file before Release: all of this happens while it is held there.
        var halfway = (int)(100 * (size / 2) / size);
        await app.ResourceNotifications.WaitForResourceAsync(
            ModelResource, e => e.Snapshot.State?.Text == $"Downloading {Model} {halfway}%", cancellationToken).WaitAsync(Timeout, cancellationToken);
        using var api = app.CreateHttpClient("api");
        using (var loading = await ChatAsync(api, cancellationToken))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, loading.StatusCode);
            var error = JsonNode.Parse(await loading.Content.ReadAsStringAsync(cancellationToken))!["error"]!;
            Assert.Equal("model_loading", (string?)error["code"]);
            Assert.StartsWith($"The model '{Model}' is loading: downloading {HubFixture.ScriptedFile} from {Source}: {halfway}% of", (string?)error["message"], StringComparison.Ordinal);
        }
        await WaitForLogAsync(app, ModelResource, $"{Model}: downloading {HubFixture.ScriptedFile} from {Source}: {halfway}% of", cancellationToken);

        hub.Hub.Release();
        await app.ResourceNotifications.WaitForResourceHealthyAsync(ModelResource, cancellationToken).WaitAsync(Timeout, cancellationToken);

        using (var reply = await ChatAsync(api, cancellationToken))
        {
            Assert.Equal(HttpStatusCode.OK, reply.StatusCode);
            var completion = JsonNode.Parse(await reply.Content.ReadAsStringAsync(cancellationToken))!;
            Assert.Equal(GeneratedModels.ScriptedReply, (string?)completion["choices"]![0]!["message"]!["content"]);
        }
        Assert.Equal(1, hub.Hub.Downloads);
        await WaitForLogAsync(app, ModelResource, $"{Model} is ready: {HubFixture.ScriptedFile} loaded.", cancellationToken);
    }

    [Fact]
    public async Task Model_the_hub_refuses_fails_in_the_dashboard_with_the_reason_in_its_log()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        await using var hub = await HubFixture.StartAsync(models);
        await using var app = await StartAsync(hub, "hf://llmstack/No-Such-GGUF:Q8_0", cancellationToken);

        await app.ResourceNotifications.WaitForResourceAsync("no-such-gguf-q8-0", KnownResourceStates.FailedToStart, cancellationToken)
            .WaitAsync(Timeout, cancellationToken);

        await WaitForLogAsync(app, "no-such-gguf-q8-0", "refused to list the files of llmstack/No-Such-GGUF: 401", cancellationToken);
    }

    /// <summary>
    /// The AppHost with no Ollama and the model from <paramref name="hub"/>, the API's model cache in the hub fixture's
    /// folder; started without waiting, as starting completes only once every resource has.
    /// </summary>
    private async Task<DistributedApplication> StartAsync(HubFixture hub, string source, CancellationToken cancellationToken)
    {
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<apphost::Projects.LlmStack_AppHost>(
            ["--Ollama:Mode=none", $"--Embedded:Model={source}", $"--HF_ENDPOINT={hub.Hub.Endpoint}", "--Telemetry:OtlpExport=false",
                LlmStackAppFixture.ApiKeyArgument, LlmStackAppFixture.AdminPasswordArgument, _webData.Argument],
            cancellationToken);
        var api = builder.Resources.OfType<ProjectResource>().Single(r => r.Name == "api");
        builder.CreateResourceBuilder(api).WithEnvironment("LlmStack__ModelCache", hub.CacheFolder);
        var app = await builder.BuildAsync(cancellationToken).WaitAsync(Timeout, cancellationToken);
        _ = app.StartAsync(cancellationToken);
        return app;
    }

    private static Task<HttpResponseMessage> ChatAsync(HttpClient api, CancellationToken cancellationToken) =>
        StartedStack.ChatAsync(api, Model, Timeout, cancellationToken);

    private static Task WaitForLogAsync(DistributedApplication app, string resource, string text, CancellationToken cancellationToken) =>
        StartedStack.WaitForLogAsync(app, resource, text, Timeout, cancellationToken);

    public void Dispose() => _webData.Dispose();
}
