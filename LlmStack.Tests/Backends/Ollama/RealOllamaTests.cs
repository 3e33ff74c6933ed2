using LlmStack.Api.Configuration;
using LlmStack.Api.Pipeline;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace LlmStack.Tests.Backends.Ollama;

/// <summary>
/// Against a real Ollama, when one is given: <c>OLLAMA_URL=http://localhost:11434</c> and optionally
/// <c>OLLAMA_MODEL</c> (default <c>qwen2.5:0.5b</c>, which must be pulled). Reported as skipped otherwise.
/// </summary>
public sealed class RealOllamaTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromMinutes(5);
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_real_ollama_streams_a_reply_with_usage()
    {
        var url = Environment.GetEnvironmentVariable("OLLAMA_URL");
        if (string.IsNullOrWhiteSpace(url))
        {
            Assert.Skip("OLLAMA_URL is not set, so there is no real Ollama to test against " +
                        "(e.g. OLLAMA_URL=http://localhost:11434 OLLAMA_MODEL=qwen2.5:0.5b).");
        }
        var name = Environment.GetEnvironmentVariable("OLLAMA_MODEL") is { Length: > 0 } configured ? configured : "qwen2.5:0.5b";
        await using var host = new BackendHost(new ModelOptions
        {
            Id = "real", Backend = "ollama", Endpoint = url, UpstreamModel = name, Ollama = new() { NumCtx = 2048, KeepAlive = "5m" },
        });

        // Asked for, so it must work: a model that is not pulled fails with readiness's own explanation.
        var ready = await host.Model("real").CheckReadyAsync(Token).WaitAsync(Bound, Token);
        Assert.True(ready.Status == HealthStatus.Healthy, ready.Description);

        var updates = await host.ChatClient("real")
            .GetStreamingResponseAsync("Reply with one word: pong.", new ChatOptions { Temperature = 0, MaxOutputTokens = 16 }, Token)
            .ToListAsync(Token).AsTask().WaitAsync(Bound, Token);

        Assert.False(string.IsNullOrWhiteSpace(string.Concat(updates.Select(u => u.Text))));
        var usage = updates.SelectMany(u => u.Contents).OfType<UsageContent>().Single().Details;
        Assert.True(usage.InputTokenCount > 0);
        Assert.InRange(usage.OutputTokenCount ?? 0, 1, 16);
        Assert.Equal(2048, host.Model("real").ContextLength);
    }
}
