extern alias apphost;

using System.Text.Json.Nodes;
using Aspire.Hosting.Testing;

namespace LlmStack.Tests.AppModel;

/// <summary>What <c>--publisher manifest</c> writes: the deployment target runs Docker, so Ollama is a container.</summary>
public sealed class ManifestTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("llmstack-manifest-").FullName;

    [Fact]
    public async Task Manifest_models_the_ollama_container_and_the_api_pointing_at_it()
    {
        var path = Path.Combine(_directory, "aspire-manifest.json");
        var cancellationToken = TestContext.Current.CancellationToken;

        // Ollama:Mode=none is what this machine would pick to run; publishing ignores it.
        await using var builder = await DistributedApplicationTestingBuilder.CreateAsync<apphost::Projects.LlmStack_AppHost>(
            ["--publisher", "manifest", "--output-path", path, "--Ollama:Mode=none"], cancellationToken);
        await using var app = await builder.BuildAsync(cancellationToken).WaitAsync(TimeSpan.FromSeconds(30), cancellationToken);
        await app.RunAsync(cancellationToken).WaitAsync(TimeSpan.FromSeconds(60), cancellationToken);

        var resources = JsonNode.Parse(await File.ReadAllTextAsync(path, cancellationToken))!["resources"]!;
        var ollama = resources["ollama"]!;
        Assert.Equal("container.v0", (string?)ollama["type"]);
        Assert.Matches(@"^docker\.io/ollama/ollama:\d+\.\d+\.\d+$", (string?)ollama["image"]);
        Assert.Equal(11434, (int?)ollama["bindings"]!["http"]!["targetPort"]);
        Assert.Equal("/root/.ollama", (string?)ollama["volumes"]![0]!["target"]);
        Assert.Equal("llmstack-ollama-models", (string?)ollama["volumes"]![0]!["name"]);

        var apiEnv = resources["api"]!["env"]!;
        Assert.Equal("qwen2.5:7b", (string?)apiEnv["LlmStack__Models__0__Id"]);
        Assert.Equal("ollama", (string?)apiEnv["LlmStack__Models__0__Backend"]);
        Assert.Equal("{ollama.bindings.http.url}", (string?)apiEnv["LlmStack__Models__0__Endpoint"]);
        Assert.Equal("{api.bindings.http.url}", (string?)resources["web"]!["env"]!["services__api__http__0"]);
        Assert.Null(resources["qwen2-5-7b"]);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
