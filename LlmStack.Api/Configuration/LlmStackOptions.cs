namespace LlmStack.Api.Configuration;

/// <summary>
/// The <c>LlmStack</c> configuration section: which models the API serves and where each one runs.
/// </summary>
public sealed class LlmStackOptions
{
    public const string SectionName = "LlmStack";

    /// <summary><c>LlmStack:Models:&lt;n&gt;</c>. Empty means "serve the built-in demo model".</summary>
    public List<ModelOptions> Models { get; set; } = [];

    /// <summary>
    /// <c>LlmStack:MaxRequestBodySize</c>: the largest request body accepted, in bytes (default 16 MiB); larger is a 413.
    /// </summary>
    public long MaxRequestBodySize { get; set; } = 16 * 1024 * 1024;

    /// <summary>
    /// <c>LlmStack:ModelCache</c>: the folder models downloaded from a hub (<c>Source</c>) are kept in; default
    /// <c>llmstack/models</c> under the user's cache directory (<c>~/.cache</c> on Linux). Processes sharing it download a file once.
    /// </summary>
    public string? ModelCache { get; set; }

    /// <summary>
    /// <c>LlmStack:LlamaCppLibraries</c>: a folder holding the llama.cpp build the embedded backend runs - one made for this
    /// machine's CPU by <c>deploy/build-llama-cpp.sh</c>, of the commit LLamaSharp is built for - instead of LLamaSharp's
    /// prebuilt ones (which use no instruction set beyond AVX-512F: no AVX512-VNNI, AVX-VNNI or BF16). Checked at start.
    /// </summary>
    public string? LlamaCppLibraries { get; set; }

    /// <summary><c>LlmStack:LogContent</c>: include prompt and completion text in logs. Off by default.</summary>
    public bool LogContent { get; set; }

    /// <summary>
    /// <c>LlmStack:MaxOutputTokens</c>: the largest <c>max_tokens</c> (or <c>max_completion_tokens</c>) a request may
    /// ask for (default 32768); more is a 400. A request that sets none is bounded by the model's context.
    /// </summary>
    public int MaxOutputTokens { get; set; } = 32_768;

    /// <summary>
    /// <c>LlmStack:MaxRequestDuration</c>: the longest a request may run, queueing and streaming included
    /// (default 30 minutes). Past it a stream ends with an error event and <c>[DONE]</c>; a non-streamed request gets 504.
    /// </summary>
    public TimeSpan MaxRequestDuration { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>
    /// <c>LlmStack:DrainTimeout</c>: on shutdown (SIGTERM, Ctrl+C) how long requests in flight may still finish
    /// (default 8 s, within docker stop's 10 s grace); the rest then end with an error event and <c>[DONE]</c>.
    /// </summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(8);

    /// <summary>
    /// <c>LlmStack:StreamWriteTimeout</c>: the longest one write of a stream may wait for its client to read (default
    /// 30 s). Past it the request ends as cut off - its model call cancelled, its slot freed, its tokens charged, an error
    /// event sent if the connection still takes one - so a client that stops reading cannot hold a slot.
    /// </summary>
    public TimeSpan StreamWriteTimeout { get; set; } = TimeSpan.FromSeconds(30);
}
