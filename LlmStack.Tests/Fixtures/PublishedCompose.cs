extern alias apphost;

using Aspire.Hosting.Testing;
using YamlDotNet.Serialization;

namespace LlmStack.Tests.Fixtures;

/// <summary>
/// The compose project <c>--publisher compose</c> writes, published through the real AppHost into a temporary
/// folder, with its compose file parsed for the assertions (a YAML map is a dictionary, a sequence a list).
/// </summary>
public class PublishedCompose : IAsyncLifetime
{
    private readonly string[] _settings;

    public PublishedCompose()
        : this([])
    {
    }

    /// <param name="settings">More AppHost settings to publish with (e.g. <c>--Api:Replicas=2</c>).</param>
    protected PublishedCompose(string[] settings)
    {
        _settings = settings;
    }

    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("llmstack-compose-").FullName;

    public const string FileName = "docker-compose.yaml";

    public string ComposeFile => Path.Combine(Directory, FileName);

    public string ComposeText { get; private set; } = "";

    public string EnvExample { get; private set; } = "";

    public Dictionary<object, object> Services { get; private set; } = [];

    public Dictionary<object, object> Volumes { get; private set; } = [];

    public static string Version { get; } = typeof(PublishedCompose).Assembly.GetName().Version!.ToString(3);

    public async ValueTask InitializeAsync()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        // Ollama:Mode=none is what a machine without Docker picks to run; publishing models the deployment anyway.
        await using var builder = await DistributedApplicationTestingBuilder.CreateAsync<apphost::Projects.LlmStack_AppHost>(
            ["--publisher", "compose", "--output-path", Directory, "--Ollama:Mode=none", .. _settings], cancellationToken);
        await using var app = await builder.BuildAsync(cancellationToken).WaitAsync(TimeSpan.FromSeconds(60), cancellationToken);
        await app.RunAsync(cancellationToken).WaitAsync(TimeSpan.FromSeconds(120), cancellationToken);

        ComposeText = await File.ReadAllTextAsync(ComposeFile, cancellationToken);
        EnvExample = await File.ReadAllTextAsync(Path.Combine(Directory, ".env.example"), cancellationToken);
        var root = new DeserializerBuilder().Build().Deserialize<Dictionary<object, object>>(ComposeText);
        Services = (Dictionary<object, object>)root["services"];
        Volumes = (Dictionary<object, object>)root["volumes"];
    }

    public Dictionary<object, object> Service(string name) =>
        Services.TryGetValue(name, out var service) ? (Dictionary<object, object>)service : throw new KeyNotFoundException($"No service '{name}' in {ComposeFile}.");

    public static Dictionary<object, object> Map(Dictionary<object, object> node, string key) => (Dictionary<object, object>)node[key];

    public static List<string> Strings(Dictionary<object, object> node, string key) =>
        node.TryGetValue(key, out var list) ? [.. ((List<object>)list).Cast<string>()] : [];

    public static Dictionary<string, string> Environment(Dictionary<object, object> service) =>
        service.TryGetValue("environment", out var environment)
            ? ((Dictionary<object, object>)environment).ToDictionary(e => (string)e.Key, e => (string)e.Value)
            : [];

    public ValueTask DisposeAsync()
    {
        System.IO.Directory.Delete(Directory, recursive: true);
        return ValueTask.CompletedTask;
    }
}

/// <summary>The compose project published with two API replicas (<c>Api:Replicas=2</c>): a Redis, and each API service twice.</summary>
public sealed class PublishedReplicaCompose() : PublishedCompose(["--Api:Replicas=2"]);
