using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace LlmStack.Tests.Containers;

/// <summary>
/// The compose project as <c>.env.example</c> deploys it - the <c>cpu</c> profile (Ollama, its pull job, the API's
/// ollama backend, the Web, Prometheus) with the <c>proxy</c> profile on (Caddy with automatic HTTPS in front of the
/// Web and the API) - on the real Docker engine, with stand-ins for the third-party images (Debian's Caddy and
/// Prometheus, the tests' Ollama-protocol server). Brought up once for every class of <see cref="ProxiedCpuStackTests"/>.
/// <para>
/// Beside the deployment's own model, the API is given two more through the tests' override file, so that the
/// dashboard's panels that only show failures have series: <see cref="ReplicatedModel"/>, served by two replicas of
/// which the first never answers (a closed port on the Ollama container) - replica errors and an ejection - and
/// <see cref="FailingModel"/>, whose replies fail after their first token (the stand-in's <c>failing*</c>) - errors by type.
/// </para>
/// </summary>
public sealed class ProxiedCpuStack : IAsyncLifetime
{
    /// <summary>The model the cpu profile pulls and the API serves (the AppHost's default <c>Ollama:Model</c>).</summary>
    public const string Model = "qwen2.5:7b";

    /// <summary>The model served by two replicas, the first of them dead.</summary>
    public const string ReplicatedModel = "replicated";

    /// <summary>A model whose every reply fails mid-way with an error from Ollama.</summary>
    public const string FailingModel = "failing:1b";

    /// <summary>The site Caddy serves when <c>LLMSTACK_DOMAIN</c> is not set: a name its own CA signs.</summary>
    public const string Domain = "localhost";

    /// <summary>Where Caddy keeps its own CA's root certificate (its data directory is the image's /data).</summary>
    private const string CaRootPath = "/data/caddy/pki/authorities/local/root.crt";

    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    public ComposeStack Stack { get; } = new("cpu,proxy", ["api-cpu", "ollama", "web", "prometheus", "proxy"], ["ollama-pull"],
        new Dictionary<string, string>(),
        new Dictionary<string, IReadOnlyDictionary<string, string>>
        {
            ["api-cpu"] = new Dictionary<string, string>
            {
                ["LlmStack__Models__1__Id"] = ReplicatedModel,
                ["LlmStack__Models__1__Backend"] = "ollama",
                ["LlmStack__Models__1__UpstreamModel"] = Model,
                ["LlmStack__Models__1__Replicas__0__Endpoint"] = "http://ollama:1",
                ["LlmStack__Models__1__Replicas__1__Endpoint"] = "http://ollama:11434",
                ["LlmStack__Models__2__Id"] = FailingModel,
                ["LlmStack__Models__2__Backend"] = "ollama",
                ["LlmStack__Models__2__Endpoint"] = "http://ollama:11434",
            },
            ["ollama"] = new Dictionary<string, string> { ["OLLAMA_STANDIN_MODELS"] = FailingModel },
        },
        waitUntilReady: true);

    public string? UnavailableReason => Stack.UnavailableReason;

    /// <summary>The proxy's HTTPS root as a client on the host reaches it (by the site's name).</summary>
    public Uri Https => new($"https://{Domain}:{Stack.ProxyHttpsPort}/");

    /// <summary>The proxy's plain HTTP root.</summary>
    public Uri Http => new($"http://{Domain}:{Stack.ProxyHttpPort}/");

    /// <summary>The root certificate of Caddy's own CA, read from the proxy container (what an operator installs on clients).</summary>
    public X509Certificate2 CaRoot { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        await Stack.InitializeAsync();
        if (Stack.UnavailableReason is not null)
        {
            return;
        }
        // Caddy makes its CA and the site's certificate right after start; the health check only says its admin API answers.
        var deadline = DateTime.UtcNow + Bound;
        while (true)
        {
            var pem = await DockerEngine.RunAsync("docker", ["exec", await Stack.ContainerAsync("proxy"), "cat", CaRootPath], Bound);
            if (pem.ExitCode == 0 && pem.Output.Contains("BEGIN CERTIFICATE", StringComparison.Ordinal))
            {
                CaRoot = X509Certificate2.CreateFromPem(pem.Output);
                return;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException($"Caddy made no CA root at {CaRootPath} within {Bound.TotalSeconds:0} s: {pem.Describe("cat")}");
            }
            await Task.Delay(TimeSpan.FromSeconds(1));
        }
    }

    /// <summary>An HTTP client that trusts exactly <see cref="CaRoot"/> (no system root), as a client given that certificate does.</summary>
    public HttpClient TrustingClient(bool allowRedirects = true) => new(new SocketsHttpHandler
    {
        AllowAutoRedirect = allowRedirects,
        SslOptions = new SslClientAuthenticationOptions
        {
            CertificateChainPolicy = new X509ChainPolicy
            {
                TrustMode = X509ChainTrustMode.CustomRootTrust,
                CustomTrustStore = { CaRoot },
                RevocationMode = X509RevocationMode.NoCheck,
            },
        },
    }) { Timeout = Bound };

    public async ValueTask DisposeAsync()
    {
        CaRoot?.Dispose();
        await Stack.DisposeAsync();
    }
}

/// <summary>
/// The classes that share one <see cref="ProxiedCpuStack"/>. Like the other container tests, one at a time and not
/// beside another collection: a second stack or image build at once only makes each slower on a 2-core box.
/// </summary>
[CollectionDefinition(Collection, DisableParallelization = true)]
public sealed class ProxiedCpuStackTests : ICollectionFixture<ProxiedCpuStack>
{
    public const string Collection = "Containers (cpu and proxy profiles)";
}
