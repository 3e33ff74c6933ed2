using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.DependencyInjection;

namespace LlmStack.Tests.EndToEnd;

/// <summary>What the end-to-end tests do with a started AppHost: chat with its API, read a resource's log.</summary>
internal static class StartedStack
{
    /// <summary>One chat message to <paramref name="model"/> through the API, with the stack's key.</summary>
    public static Task<HttpResponseMessage> ChatAsync(HttpClient api, string model, TimeSpan timeout, CancellationToken cancellationToken) =>
        api.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = JsonContent.Create(new JsonObject
            {
                ["model"] = model,
                ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "Hello?" }),
            }),
            Headers = { Authorization = new AuthenticationHeaderValue("Bearer", LlmStackAppFixture.ApiKey) },
        }, cancellationToken).WaitAsync(timeout, cancellationToken);

    /// <summary>Waits until a line of <paramref name="resource"/>'s log (as the dashboard shows it) contains <paramref name="text"/>.</summary>
    public static async Task WaitForLogAsync(DistributedApplication app, string resource, string text, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        await foreach (var batch in app.Services.GetRequiredService<ResourceLoggerService>().WatchAsync(resource).WithCancellation(deadline.Token))
        {
            if (batch.Any(line => line.Content.Contains(text, StringComparison.Ordinal)))
            {
                return;
            }
        }
        Assert.Fail($"The log of {resource} ended without \"{text}\".");
    }
}
