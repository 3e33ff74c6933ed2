using LlmStack.Web.Security;
using Microsoft.Extensions.Options;

namespace LlmStack.Web.Chat;

/// <summary>
/// <c>LlmStack:Chat:RequestsPerMinute</c>: how many chat requests one signed-in person may send a minute (a budget
/// refilled continuously), across all their tabs and browsers. The Web sends every chat to the API with the one stack
/// key, so without it one account could spend the whole key's budget - or the GPU - for everyone.
/// </summary>
public sealed class ChatRequestLimiter(IOptions<ChatLimitOptions> options) : IDisposable
{
    private readonly PerKeyBudget<string> _budget = new(options.Value.RequestsPerMinute);

    public int PerMinute => _budget.PerMinute;

    /// <summary>Takes one request from <paramref name="userId"/>'s budget; null when granted, else how long until the next.</summary>
    public TimeSpan? TryAcquire(string userId) => _budget.TryTake(userId);

    public void Dispose() => _budget.Dispose();
}

/// <summary><c>LlmStack:Chat</c>.</summary>
public sealed class ChatLimitOptions
{
    public const string SectionName = "LlmStack:Chat";

    /// <summary>Chat requests a minute per signed-in user; a person typing rarely sends more than a few.</summary>
    public int RequestsPerMinute { get; set; } = 20;
}

internal sealed class ChatLimitOptionsValidator : IValidateOptions<ChatLimitOptions>
{
    public ValidateOptionsResult Validate(string? name, ChatLimitOptions options) => options.RequestsPerMinute is >= 1 and <= 10_000
        ? ValidateOptionsResult.Success
        : ValidateOptionsResult.Fail($"{ChatLimitOptions.SectionName}:RequestsPerMinute must be between 1 and 10000; it is {options.RequestsPerMinute}.");
}
