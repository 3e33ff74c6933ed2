using LlmStack.Api.Contracts;
using Microsoft.Extensions.AI;

namespace LlmStack.Api.Endpoints;

/// <summary>What every chunk (or the whole answer) of one chat or text completion carries: its id, creation time and model.</summary>
internal sealed record CompletionIdentity(string Id, long Created, string Model)
{
    /// <param name="prefix">OpenAI's id prefix: <c>chatcmpl-</c>, <c>cmpl-</c>.</param>
    public static CompletionIdentity New(string prefix, string model) =>
        new(prefix + Guid.NewGuid().ToString("N"), DateTimeOffset.UtcNow.ToUnixTimeSeconds(), model);
}

internal static class UsageMapping
{
    /// <summary>Usage in chat's and completions' wire shape (Responses names its fields otherwise).</summary>
    public static Usage ToUsage(this UsageDetails usage)
    {
        var prompt = (int)(usage.InputTokenCount ?? 0);
        var completion = (int)(usage.OutputTokenCount ?? 0);
        return new Usage
        {
            PromptTokens = prompt,
            CompletionTokens = completion,
            TotalTokens = (int)(usage.TotalTokenCount ?? prompt + completion),
        };
    }
}
