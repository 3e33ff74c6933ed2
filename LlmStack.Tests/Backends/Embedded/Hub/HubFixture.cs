extern alias bench;

using bench::LlmStack.Benchmarks.Hub;
using LlmStack.Api.Backends.Embedded.Hub;
using LlmStack.Gguf;
using LlmStack.Tests.Fixtures;
using Microsoft.Extensions.Configuration;

namespace LlmStack.Tests.Backends.Embedded.Hub;

/// <summary>
/// A <see cref="LocalHub"/> for one test, publishing the generated models in the hub's layout, a cache folder of
/// its own, and downloaders wired to both the way the API wires them.
/// </summary>
public sealed class HubFixture : IAsyncDisposable
{
    public const string Repository = "llmstack/Scripted-GGUF";
    public const string ScriptedFile = "scripted-Q8_0.gguf";

    /// <summary>A file of ~20 MB (random weights), large enough to be cut, held and resumed in the middle.</summary>
    public const string LargeFile = "large-F32.gguf";

    private static readonly Lazy<string> s_large = new(() =>
    {
        var path = Path.Combine(Path.GetTempPath(), $"llmstack-hub-large-{Environment.ProcessId}.gguf");
        RandomModel.Write(path, new RandomModelSpec { Shape = ModelShape.Tiny(512) });
        return path;
    });

    private readonly string _cache = Directory.CreateTempSubdirectory("llmstack-cache-").FullName;

    private HubFixture(LocalHub hub) => Hub = hub;

    public LocalHub Hub { get; }

    public string CacheFolder => _cache;

    public CapturedLogs Logs { get; } = new();

    public static string LargeModelPath => s_large.Value;

    /// <summary>
    /// The hub with <see cref="Repository"/> holding the scripted model under a few quantization names (the same
    /// bytes: which name was chosen shows in the file name), a copy in a folder, the large file, plus a private
    /// and a gated repository.
    /// </summary>
    /// <param name="endpoint">Where the hub listens (loopback unless said).</param>
    /// <param name="publicHost">The address its clients reach it at, when not loopback (containers: the Docker bridge's gateway).</param>
    public static async Task<HubFixture> StartAsync(GeneratedModels models, System.Net.IPEndPoint? endpoint = null, string? publicHost = null)
    {
        var hub = await LocalHub.StartAsync(endpoint, publicHost);
        hub.AddFile(Repository, "scripted-Q4_K_M.gguf", models.Scripted);
        hub.AddFile(Repository, ScriptedFile, models.Scripted);
        hub.AddFile(Repository, "scripted-F16.gguf", models.ScriptedLlama);
        hub.AddFile(Repository, "mmproj-scripted-Q8_0.gguf", models.Random);
        hub.AddFile(Repository, "sub/scripted-Q5_K_M.gguf", models.Scripted);
        hub.AddFile(Repository, LargeFile, LargeModelPath);
        hub.AddFile("llmstack/Private-GGUF", ScriptedFile, models.Scripted, RepositoryAccess.Private);
        hub.AddFile("llmstack/Gated-GGUF", ScriptedFile, models.Scripted, RepositoryAccess.Gated);
        return new HubFixture(hub);
    }

    /// <summary>The settings the API reads: HF_ENDPOINT at this hub, and HF_TOKEN when given.</summary>
    public Dictionary<string, string?> Settings(string? token = null) => new()
    {
        [HubSettings.EndpointKey] = Hub.Endpoint.AbsoluteUri,
        [HubSettings.TokenKey] = token,
        ["LlmStack:ModelCache"] = _cache,
    };

    internal ModelDownloader Downloader(string? token = null, TimeProvider? time = null) =>
        new(new HubClient(new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false }) { Timeout = Timeout.InfiniteTimeSpan },
                HubSettings.From(new ConfigurationBuilder().AddInMemoryCollection(Settings(token)).Build())),
            new ModelCache(_cache), Logs.CreateLogger(typeof(ModelDownloader).FullName!), time ?? TimeProvider.System)
        {
            BackoffOverride = TimeSpan.FromMilliseconds(50),
        };

    internal static HubModelSource Source(string text) =>
        HubModelSource.TryParse(text, out var source, out var problem) ? source : throw new ArgumentException(problem);

    internal static ModelDownloadProgress Progress(string source) => new("test-model", source, TimeProvider.System);

    public async ValueTask DisposeAsync()
    {
        await Hub.DisposeAsync();
        try
        {
            Directory.Delete(_cache, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
