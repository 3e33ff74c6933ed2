namespace LlmStack.AppHost.Compose;

/// <summary>The deployment profiles, and the <c>.env</c> settings of the compose project (one declaration each).</summary>
internal static class ComposeSettings
{
    public const string CpuProfile = "cpu";
    public const string GpuProfile = "gpu";
    public const string EmbeddedProfile = "embedded";

    /// <summary>Opt-in, beside one of the three: Caddy in front of the Web and the API, with automatic HTTPS.</summary>
    public const string ProxyProfile = "proxy";

    public const string ProxyName = "proxy";
    public const string CaddyfilePath = "/etc/caddy/Caddyfile";

    /// <summary>Where Prometheus's container keeps the API key it scrapes with (in memory: its /tmp is a tmpfs).</summary>
    public const string PrometheusKeyFile = "/tmp/llmstack-api-key";

    public const string PrometheusName = "prometheus";
    public const int PrometheusPort = 9090;
    public const string GrafanaName = "grafana";
    public const int GrafanaPort = 3000;
    public const string GrafanaDashboardsPath = "/var/lib/grafana/dashboards";

    private const string Deployment = ComposeVariables.FirstGroup;
    private const string Ports = "Ports";
    private const string Models = "Models";
    private const string Monitoring = "Monitoring";
    private const string Limits = "Memory limits";
    private const string Proxy = "HTTPS proxy (profile proxy)";

    public static readonly ComposeVariable Profiles = new("COMPOSE_PROFILES", Default: null,
        "Which deployment runs: cpu (Ollama), gpu (vLLM on an NVIDIA GPU) or embedded (a GGUF in the API process);\n" +
        "add proxy (e.g. cpu,proxy) for Caddy with HTTPS in front of the Web and the API - the way to open them to a network.\n" +
        "Compose reads this itself; `docker compose --profile <name>` on the command line does the same.",
        Deployment, ExampleValue: CpuProfile);

    public static readonly ComposeVariable BindAddress = new("LLMSTACK_BIND_ADDRESS", "127.0.0.1",
        "Host address the API and the Web listen on, in plain HTTP. 127.0.0.1 (the default) keeps them on this host: reach\n" +
        "them through the proxy profile (HTTPS), an SSH tunnel, or a reverse proxy of your own on this host. 0.0.0.0 opens\n" +
        "them to every network the host is on - the API key and the chat's session cookies then cross it in clear, so do\n" +
        "that only on a network you trust; with the proxy profile keep 127.0.0.1.",
        Ports);

    public static readonly ComposeVariable ApiPort = new("LLMSTACK_API_PORT", "5080",
        "Host port of the OpenAI-compatible API (http://<host>:5080/v1).", Ports);

    public static readonly ComposeVariable WebPort = new("LLMSTACK_WEB_PORT", "5090",
        "Host port of the chat UI.", Ports);

    public static readonly ComposeVariable MonitoringBindAddress = new("MONITORING_BIND_ADDRESS", "127.0.0.1",
        "Host address Prometheus and Grafana listen on. Local by default (reach them through an SSH tunnel): Prometheus has no login.",
        Monitoring);

    public static readonly ComposeVariable PrometheusHostPort = new("PROMETHEUS_PORT", "9090", "Host port of Prometheus.", Monitoring);

    public static readonly ComposeVariable GrafanaHostPort = new("GRAFANA_PORT", "3000", "Host port of Grafana.", Monitoring);

    public static readonly ComposeVariable GrafanaAdminPassword = new("GRAFANA_ADMIN_PASSWORD", Default: null,
        "Password of Grafana's admin user (required; choose a long random one, e.g. `openssl rand -hex 16`).",
        Monitoring, ExampleValue: "");

    public static readonly ComposeVariable EmbeddedModelSource = new("EMBEDDED_MODEL_SOURCE", "",
        "embedded profile: a GGUF on Hugging Face the API downloads, verifies and keeps in the model-cache volume:\n" +
        "hf://<owner>/<repo>:<quant> (e.g. hf://Qwen/Qwen2.5-1.5B-Instruct-GGUF:Q4_K_M) or hf://<owner>/<repo>/<file.gguf>,\n" +
        "optionally @<revision>. Set this or EMBEDDED_MODEL_FILE; with neither, the API serves its built-in demo model.", Models);

    public static readonly ComposeVariable EmbeddedModelFile = new("EMBEDDED_MODEL_FILE", "",
        "embedded profile: the GGUF file in ./models to serve (e.g. qwen2.5-1.5b-instruct-q4_k_m.gguf).\n" +
        "Empty (and no EMBEDDED_MODEL_SOURCE): the API serves its built-in demo model.", Models);

    public static readonly ComposeVariable EmbeddedModelId = new("EMBEDDED_MODEL_ID", "",
        "embedded profile: the model id clients send; empty means the source without hf:// and @revision, or the file name without .gguf.", Models);

    public static readonly ComposeVariable ModelsDirectory = new("LLMSTACK_MODELS_DIR", "./models",
        "embedded profile: the host folder mounted read-only at /models in the API container.", Models);

    public static readonly ComposeVariable HuggingFaceToken = new("HF_TOKEN", "",
        "gpu and embedded profiles: a Hugging Face token, needed only for gated or private models (Qwen2.5 is not gated).", Models);

    public static readonly ComposeVariable HuggingFaceEndpoint = new("HF_ENDPOINT", "",
        "embedded profile: a Hugging Face mirror to download EMBEDDED_MODEL_SOURCE from; empty means https://huggingface.co.", Models);

    public static readonly ComposeVariable OllamaMemory = new("OLLAMA_MEMORY_LIMIT", "12g",
        "cpu profile: memory limit of Ollama. qwen2.5:7b (Q4_K_M) needs ~5.5 GB with an 8k context; see docs/deploy-ec2.md.", Limits);

    public static readonly ComposeVariable VllmSharedMemory = new("VLLM_SHM_SIZE", "8g",
        "gpu profile: the size of vLLM's /dev/shm (its processes share tensors through it; Docker's default is 64 MB).", Limits);

    public static readonly ComposeVariable Domain = new("LLMSTACK_DOMAIN", "localhost",
        "The name the proxy serves. A public domain whose DNS points at this host gets a Let's Encrypt certificate\n" +
        "(ports 80 and 443 must be reachable from the internet). localhost, or this host's IP address, gets a certificate\n" +
        "from Caddy's own CA instead; clients then trust its root, which `docker compose cp proxy:/data/caddy/pki/authorities/local/root.crt .` copies out.\n" +
        "The chat is at https://<name>/, the OpenAI-compatible API at https://<name>/v1.", Proxy);

    public static readonly ComposeVariable ProxyBindAddress = new("PROXY_BIND_ADDRESS", "0.0.0.0",
        "Host address the proxy listens on (every address: it is the stack's front door).", Proxy);

    public static readonly ComposeVariable ProxyHttpPort = new("PROXY_HTTP_PORT", "80",
        "Host port of plain HTTP, which only redirects to HTTPS (and answers Let's Encrypt's challenges).", Proxy);

    public static readonly ComposeVariable ProxyHttpsPort = new("PROXY_HTTPS_PORT", "443", "Host port of HTTPS.", Proxy);

    public static readonly ComposeVariable EmbeddedApiMemory = new("API_EMBEDDED_MEMORY_LIMIT", "6g",
        "embedded profile: memory limit of the API, which holds the GGUF weights and one KV cache per slot.", Limits);
}
