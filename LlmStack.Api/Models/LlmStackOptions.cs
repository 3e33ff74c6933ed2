namespace LlmStack.Api.Models;

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

    /// <summary><c>LlmStack:LogContent</c>: include prompt and completion text in logs. Off by default.</summary>
    public bool LogContent { get; set; }
}
