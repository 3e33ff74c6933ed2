namespace LlmStack.Api.Access;

/// <summary>
/// <c>LlmStack:Auth</c>: who may call the API. No keys = open (as Ollama and vLLM are by default); with keys,
/// every <c>/v1</c> request needs <c>Authorization: Bearer &lt;key&gt;</c>.
/// </summary>
public sealed class AuthOptions
{
    public const string SectionName = "LlmStack:Auth";

    /// <summary><c>LlmStack:Auth:Keys:&lt;n&gt;</c>; from environment variables, user secrets or a mounted secrets file.</summary>
    public List<ApiKeyOptions> Keys { get; set; } = [];

    /// <summary><c>LlmStack:Auth:ProtectMetrics</c>: <c>/metrics</c> needs a key too (it names models and keys). Off by default.</summary>
    public bool ProtectMetrics { get; set; }

    /// <summary>
    /// <c>LlmStack:Auth:ReservedOutputTokens</c>: the output tokens a request that sets no <c>max_tokens</c> reserves
    /// from its key's token budget before its model is called (default 512). It is then charged what it generated.
    /// </summary>
    public int ReservedOutputTokens { get; set; } = 512;

    /// <summary>
    /// <c>LlmStack:Auth:Redis</c>: a Redis connection string (e.g. <c>redis:6379</c>). The keys' budgets are kept there,
    /// shared by every replica of the API; unset, each process keeps its own.
    /// </summary>
    public string? Redis { get; set; }

    public bool Enabled => Keys.Count > 0;
}

/// <summary>One API key: <c>LlmStack:Auth:Keys:&lt;n&gt;:*</c>.</summary>
public sealed class ApiKeyOptions
{
    /// <summary>Shortest key accepted: a short key can be guessed by anyone who can reach the port.</summary>
    public const int MinimumKeyLength = 16;

    /// <summary>The secret clients send as the bearer token.</summary>
    public string Key { get; set; } = "";

    /// <summary>Shown in logs and metrics instead of the secret; default <c>key-&lt;n&gt;</c>.</summary>
    public string? Name { get; set; }

    /// <summary>Requests a minute this key may send (a continuously refilled budget); unlimited when unset.</summary>
    public int? RequestsPerMinute { get; set; }

    /// <summary>
    /// Prompt + completion tokens a minute; unlimited when unset. A request reserves its prompt and output limit before
    /// its model is called and is charged what it used when it ends, however it ended.
    /// </summary>
    public int? TokensPerMinute { get; set; }

    /// <summary>
    /// Requests of this key in flight at once (in this API process), streams until their last event; unlimited when unset.
    /// One more is refused with 429 at once. Each model's queue also takes keys in turn, whatever this says.
    /// </summary>
    public int? MaxConcurrentRequests { get; set; }
}
