using Microsoft.Extensions.Options;

namespace LlmStack.Api.Responses;

/// <summary><c>LlmStack:Responses</c>: where and how long stored responses are kept.</summary>
public sealed class ResponsesOptions
{
    public const string SectionName = "LlmStack:Responses";

    /// <summary>How long a stored response can be read or continued (default one day).</summary>
    public TimeSpan Retention { get; set; } = TimeSpan.FromDays(1);

    /// <summary>The in-memory store's bound, in bytes of stored JSON (default 64 MiB); the least recently used go first.</summary>
    public long MaxStoredBytes { get; set; } = 64 * 1024 * 1024;

    /// <summary>A Redis connection string (e.g. <c>redis:6379</c>): store responses there, shared by every replica.</summary>
    public string? Redis { get; set; }
}

internal sealed class ResponsesOptionsValidator : IValidateOptions<ResponsesOptions>
{
    public ValidateOptionsResult Validate(string? name, ResponsesOptions options)
    {
        var failures = new List<string>();
        if (options.Retention <= TimeSpan.Zero)
        {
            failures.Add($"{ResponsesOptions.SectionName}:Retention must be a positive duration (e.g. 1.00:00:00 for a day), not {options.Retention}.");
        }
        if (options.MaxStoredBytes <= 0)
        {
            failures.Add($"{ResponsesOptions.SectionName}:MaxStoredBytes must be a positive number of bytes, not {options.MaxStoredBytes}.");
        }
        return failures.Count > 0 ? ValidateOptionsResult.Fail(failures) : ValidateOptionsResult.Success;
    }
}
