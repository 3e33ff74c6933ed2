using Microsoft.Extensions.Options;

namespace LlmStack.Api.Access;

/// <summary>
/// Bad key configuration stops the API at start with a message that names the key's entry - never the secret
/// itself, which would end up in a log.
/// </summary>
internal sealed class AuthOptionsValidator : IValidateOptions<AuthOptions>
{
    public ValidateOptionsResult Validate(string? name, AuthOptions options)
    {
        var failures = new List<string>();
        var secrets = new HashSet<string>(StringComparer.Ordinal);
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < options.Keys.Count; i++)
        {
            var key = options.Keys[i];
            var prefix = $"{AuthOptions.SectionName}:Keys:{i}";
            if (string.IsNullOrEmpty(key.Key))
            {
                failures.Add($"{prefix}:Key is required: the secret clients send as 'Authorization: Bearer <key>'.");
            }
            else if (key.Key.Length < ApiKeyOptions.MinimumKeyLength || key.Key.Any(c => c is <= ' ' or > '~'))
            {
                failures.Add($"{prefix}:Key must be at least {ApiKeyOptions.MinimumKeyLength} printable ASCII characters without spaces " +
                             "(e.g. the output of 'openssl rand -hex 24').");
            }
            else if (!secrets.Add(key.Key))
            {
                failures.Add($"{prefix}:Key is the same secret as an earlier key; give every client its own.");
            }

            if (!names.Add(ApiKeyNames.Of(key, i)))
            {
                failures.Add($"{prefix}:Name '{ApiKeyNames.Of(key, i)}' is used by an earlier key; names tell keys apart in logs and metrics.");
            }
            if (key.RequestsPerMinute is < 1)
            {
                failures.Add($"{prefix}:RequestsPerMinute must be at least 1 (leave it unset for no limit), not {key.RequestsPerMinute}.");
            }
            if (key.TokensPerMinute is < 1)
            {
                failures.Add($"{prefix}:TokensPerMinute must be at least 1 (leave it unset for no limit), not {key.TokensPerMinute}.");
            }
            if (key.MaxConcurrentRequests is < 1)
            {
                failures.Add($"{prefix}:MaxConcurrentRequests must be at least 1 (leave it unset for no limit), not {key.MaxConcurrentRequests}.");
            }
        }
        if (options.ReservedOutputTokens < 1)
        {
            failures.Add($"{AuthOptions.SectionName}:ReservedOutputTokens must be at least 1, not {options.ReservedOutputTokens}.");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

internal static class ApiKeyNames
{
    public static string Of(ApiKeyOptions key, int index) => string.IsNullOrWhiteSpace(key.Name) ? $"key-{index}" : key.Name;
}
