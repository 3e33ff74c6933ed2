extern alias apphost;

using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using apphost::LlmStack.AppHost.Hosting;
using apphost::LlmStack.AppHost.Ollama;
using LlmStack.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;

namespace LlmStack.Tests.Containers;

/// <summary>
/// The AppHost's <c>Ollama:Mode=container</c> on the real Docker engine, with an image that speaks Ollama's
/// protocol standing in for <c>ollama/ollama</c> (which no registry serves here): the container starts, the model
/// is pulled into it, the API answers through it; and the failures a user can meet are said, not waited on.
/// </summary>
[Collection(ContainerTests.Collection)]
public sealed class AppHostContainerModeTests : IAsyncLifetime
{
    private static readonly TimeSpan Bound = TimeSpan.FromMinutes(3);

    private const string ApiKey = "container-mode-test-key-0123456789abcdef0123456789";

    private readonly List<string> _containers = [];
    private readonly AppHostWebData _webData = new();
    private string? _unavailable;
    private bool _modelVolumeExisted;

    public async ValueTask InitializeAsync()
    {
        _unavailable = await DockerEngine.UnavailableReasonAsync();
        if (_unavailable is null)
        {
            await ContainerImages.OllamaStandInAsync();
            _modelVolumeExisted = (await DockerEngine.DockerAsync(Bound, "volume", "inspect", OllamaHostingExtensions.ModelVolumeName)).ExitCode == 0;
        }
    }

    [Fact]
    public async Task Container_mode_runs_the_configured_image_pulls_the_model_into_it_and_the_api_answers_through_it()
    {
        Assert.SkipWhen(_unavailable is not null, _unavailable ?? "");
        var cancellationToken = TestContext.Current.CancellationToken;

        await using var builder = await DistributedApplicationTestingBuilder.CreateAsync<apphost::Projects.LlmStack_AppHost>(
            ["--Ollama:Mode=container", $"--Ollama:Image={ContainerImages.OllamaStandInImage}", $"--Ollama:ImageTag={ContainerImages.OllamaStandInTag}",
             "--Ollama:Model=standin:1b", "--Telemetry:OtlpExport=false", $"--Parameters:{ApiKeyExtensions.ParameterName}={ApiKey}", _webData.Argument], cancellationToken);
        await using var app = await builder.BuildAsync(cancellationToken).WaitAsync(Bound, cancellationToken);
        await app.StartAsync(cancellationToken).WaitAsync(Bound, cancellationToken);

        var model = app.Services.GetRequiredService<DistributedApplicationModel>().Resources.OfType<OllamaModelResource>().Single();
        Assert.True(((OllamaResource)model.Parent).TryGetContainerImageName(out var image));
        Assert.Equal($"docker.io/{ContainerImages.OllamaStandInImage}:{ContainerImages.OllamaStandInTag}", image);
        // Healthy once the stand-in, in its container, reports the model pulled.
        await RememberContainerAsync(app, cancellationToken);
        await app.ResourceNotifications.WaitForResourceHealthyAsync(model.Name, cancellationToken).WaitAsync(Bound, cancellationToken);
        await app.ResourceNotifications.WaitForResourceHealthyAsync("api", cancellationToken).WaitAsync(Bound, cancellationToken);

        using var http = app.CreateHttpClient("api");
        http.DefaultRequestHeaders.Authorization = new("Bearer", ApiKey);
        using var response = await http.PostAsync("/v1/chat/completions", new StringContent(
            """{"model":"standin:1b","messages":[{"role":"user","content":"Hello!"}]}""", Encoding.UTF8, "application/json"), cancellationToken);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var reply = (string?)JsonNode.Parse(await response.Content.ReadAsStringAsync(cancellationToken))!["choices"]![0]!["message"]!["content"];
        Assert.Equal(string.Concat(OllamaTestServer.ReplyTokens), reply);
    }

    [Fact]
    public async Task A_container_that_exits_at_start_is_said_on_the_console_in_one_line_and_shown_exited()
    {
        Assert.SkipWhen(_unavailable is not null, _unavailable ?? "");
        var cancellationToken = TestContext.Current.CancellationToken;
        // An image that is present but is no Ollama: its shell exits at once without a terminal.
        var console = new StringWriter();
        var original = Console.Out;
        Console.SetOut(TextWriter.Synchronized(console));
        try
        {
            var (image, tag) = SplitTag(await ContainerImages.BaseAsync());
            await using var builder = await DistributedApplicationTestingBuilder.CreateAsync<apphost::Projects.LlmStack_AppHost>(
                ["--Ollama:Mode=container", $"--Ollama:Image={image}", $"--Ollama:ImageTag={tag}", "--Telemetry:OtlpExport=false", _webData.Argument], cancellationToken);
            await using var app = await builder.BuildAsync(cancellationToken).WaitAsync(Bound, cancellationToken);
            await app.StartAsync(cancellationToken).WaitAsync(Bound, cancellationToken);

            await RememberContainerAsync(app, cancellationToken);
            await app.ResourceNotifications.WaitForResourceAsync("ollama",
                [KnownResourceStates.Exited, KnownResourceStates.FailedToStart], cancellationToken).WaitAsync(Bound, cancellationToken);
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (!console.ToString().Contains("Ollama: container failed", StringComparison.Ordinal) && DateTime.UtcNow < deadline)
            {
                await Task.Delay(200, cancellationToken);
            }
        }
        finally
        {
            Console.SetOut(original);
        }

        var line = Assert.Single(console.ToString().Split(Environment.NewLine), l => l.StartsWith("Ollama: container failed", StringComparison.Ordinal));
        Assert.Matches("^Ollama: container failed - the 'ollama' container is (Exited|FailedToStart)", line);
        Assert.Contains("To fix: read its log (dashboard, or docker logs)", line);
    }

    private static (string Image, string Tag) SplitTag(string reference)
    {
        var colon = reference.LastIndexOf(':');
        return (reference[..colon], reference[(colon + 1)..]);
    }

    /// <summary>Notes the Ollama container's id as the engine gives it, so that exactly that container is removed.</summary>
    private async Task RememberContainerAsync(DistributedApplication app, CancellationToken cancellationToken)
    {
        var created = await app.ResourceNotifications.WaitForResourceAsync("ollama",
            e => e.Snapshot.Properties.Any(p => p.Name == "container.id" && p.Value is string { Length: > 0 }), cancellationToken)
            .WaitAsync(Bound, cancellationToken);
        _containers.Add((string)created.Snapshot.Properties.First(p => p.Name == "container.id").Value!);
    }

    public async ValueTask DisposeAsync()
    {
        _webData.Dispose();
        if (_unavailable is not null)
        {
            return;
        }
        // The Ollama container is persistent by design (it outlives the AppHost); the tests' ones must not.
        if (_containers.Count > 0)
        {
            await DockerEngine.CheckedAsync("docker", ["rm", "-f", "-v", .. _containers.Distinct()], Bound);
        }
        if (!_modelVolumeExisted)
        {
            await DockerEngine.DockerAsync(Bound, "volume", "rm", OllamaHostingExtensions.ModelVolumeName);
        }
    }
}
