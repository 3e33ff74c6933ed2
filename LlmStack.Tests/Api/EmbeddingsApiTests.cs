using System.ClientModel;
using System.Net;
using System.Text;
using System.Text.Json;
using LlmStack.Tests.Fixtures;
using OpenAI.Embeddings;

namespace LlmStack.Tests.Api;

/// <summary>
/// <c>/v1/embeddings</c>'s wire mapping, with a generator whose vectors are known in advance so that the
/// encoding (floats and the SDK's base64) can be checked exactly. Real embeddings from a GGUF model are
/// covered in <see cref="OpenAISdkTests"/>.
/// </summary>
public sealed class EmbeddingsApiTests
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task SDK_gets_one_vector_per_input_with_usage()
    {
        await using var app = Serve();
        var client = new EmbeddingClient("embedder", new ApiKeyCredential("unused"), OpenAISdkTests.Server.ClientOptions(app));

        // The SDK asks for base64 vectors; the API must encode them exactly.
        var embeddings = (await client.GenerateEmbeddingsAsync(["red fox", "a lazy dog sleeps"], cancellationToken: Cancel)).Value;

        Assert.Equal(2, embeddings.Count);
        Assert.Equal(HashEmbeddingGenerator.VectorOf("red fox"), embeddings[0].ToFloats().ToArray());
        Assert.Equal(HashEmbeddingGenerator.VectorOf("a lazy dog sleeps"), embeddings[1].ToFloats().ToArray());
        Assert.Equal([0, 1], embeddings.Select(e => e.Index));
        Assert.Equal(6, embeddings.Usage.InputTokenCount);
        Assert.Equal(6, embeddings.Usage.TotalTokenCount);
    }

    [Fact]
    public async Task String_input_gets_a_float_vector_in_OpenAI_shape()
    {
        await using var app = Serve();
        using var client = app.CreateClient();

        using var response = await client.PostAsync("/v1/embeddings",
            new StringContent("""{"model":"embedder","input":"hello"}""", Encoding.UTF8, "application/json"), Cancel);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Cancel));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("list", json.RootElement.GetProperty("object").GetString());
        Assert.Equal("embedder", json.RootElement.GetProperty("model").GetString());
        var data = Assert.Single(json.RootElement.GetProperty("data").EnumerateArray().ToList());
        Assert.Equal("embedding", data.GetProperty("object").GetString());
        Assert.Equal(0, data.GetProperty("index").GetInt32());
        Assert.Equal(HashEmbeddingGenerator.VectorOf("hello"), data.GetProperty("embedding").EnumerateArray().Select(v => v.GetSingle()));
        Assert.Equal(1, json.RootElement.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
    }

    [Fact]
    public async Task Model_that_cannot_embed_is_a_400_saying_so()
    {
        await using var app = Serve();
        var client = new EmbeddingClient("chat-only", new ApiKeyCredential("unused"), OpenAISdkTests.Server.ClientOptions(app));

        var error = await Assert.ThrowsAsync<ClientResultException>(() => client.GenerateEmbeddingAsync("hi", cancellationToken: Cancel));

        Assert.Equal(400, error.Status);
        Assert.Contains("cannot create embeddings", error.Message);
    }

    private static ApiApplication Serve()
    {
        var embedder = InMemoryChatClient.Replying(["-"]);
        embedder.Embeddings = new HashEmbeddingGenerator();
        return InMemoryBackend.Serve(("embedder", embedder), ("chat-only", InMemoryChatClient.Replying(["-"])));
    }
}
