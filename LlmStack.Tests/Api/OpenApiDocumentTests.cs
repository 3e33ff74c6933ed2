using System.Text.Json;
using LlmStack.Tests.Fixtures;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace LlmStack.Tests.Api;

/// <summary><c>/openapi/v1.json</c> describes the API that is really mapped, so tools can read it.</summary>
public sealed class OpenApiDocumentTests
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task The_document_lists_every_api_endpoint_with_its_method()
    {
        await using var app = InMemoryBackend.Serve(("m", InMemoryChatClient.Replying(["a"])));
        using var client = app.CreateClient();

        using var document = JsonDocument.Parse(await client.GetStringAsync("/openapi/v1.json", Cancel));

        var paths = document.RootElement.GetProperty("paths");
        var documented = paths.EnumerateObject()
            .SelectMany(path => path.Value.EnumerateObject().Select(operation => $"{operation.Name.ToUpperInvariant()} {path.Name}"))
            .ToHashSet();
        // Every endpoint the application maps under /v1 (and vLLM's /tokenize and /detokenize at the root), read from its
        // routing table: a new endpoint that is not documented fails here.
        var mapped = app.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(endpoint => endpoint.RoutePattern.RawText!.StartsWith("/v1", StringComparison.Ordinal) || endpoint.RoutePattern.RawText is "/tokenize" or "/detokenize")
            .SelectMany(endpoint => endpoint.Metadata.GetMetadata<IHttpMethodMetadata>()!.HttpMethods
                .Select(method => $"{method} {endpoint.RoutePattern.RawText!.TrimEnd('/').Replace("{**id}", "{id}", StringComparison.Ordinal)}"))
            .ToHashSet();
        Assert.Equal(
            ["DELETE /v1/responses/{id}", "GET /v1/models", "GET /v1/models/{id}", "GET /v1/responses/{id}", "POST /detokenize", "POST /tokenize",
             "POST /v1/chat/completions", "POST /v1/completions", "POST /v1/embeddings", "POST /v1/rerank", "POST /v1/responses"],
            mapped.Order());
        Assert.Subset(documented, mapped);
    }

    [Fact]
    public async Task Chat_completions_are_documented_with_their_request_responses_and_errors()
    {
        await using var app = InMemoryBackend.Serve(("m", InMemoryChatClient.Replying(["a"])));
        using var client = app.CreateClient();

        using var document = JsonDocument.Parse(await client.GetStringAsync("/openapi/v1.json", Cancel));

        var operation = document.RootElement.GetProperty("paths").GetProperty("/v1/chat/completions").GetProperty("post");
        Assert.Equal("CreateChatCompletion", operation.GetProperty("operationId").GetString());
        Assert.True(operation.GetProperty("requestBody").GetProperty("content").TryGetProperty("application/json", out _));
        var ok = operation.GetProperty("responses").GetProperty("200").GetProperty("content");
        Assert.True(ok.TryGetProperty("application/json", out _));
        Assert.True(ok.TryGetProperty("text/event-stream", out _));
        Assert.True(operation.GetProperty("responses").TryGetProperty("400", out _));
        // The wire names, as the contract serializes them.
        var request = document.RootElement.GetProperty("components").GetProperty("schemas").GetProperty("ChatCompletionRequest").GetProperty("properties");
        Assert.True(request.TryGetProperty("max_tokens", out _));
        Assert.True(request.TryGetProperty("stream_options", out _));
    }
}
