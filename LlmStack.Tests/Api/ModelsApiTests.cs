using System.Net;
using System.Text.Json;
using LlmStack.Tests.Fixtures;

namespace LlmStack.Tests.Api;

public sealed class ModelsApiTests
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Model_list_has_OpenAI_shape_and_names_each_backend()
    {
        await using var app = InMemoryBackend.Serve(("alpha", InMemoryChatClient.Replying(["a"])), ("org/beta:7b", InMemoryChatClient.Replying(["b"])));
        using var client = app.CreateClient();

        using var json = JsonDocument.Parse(await client.GetStringAsync("/v1/models", Cancel));

        Assert.Equal("list", json.RootElement.GetProperty("object").GetString());
        var models = json.RootElement.GetProperty("data").EnumerateArray().ToList();
        Assert.Equal(["alpha", "org/beta:7b"], models.Select(m => m.GetProperty("id").GetString()));
        Assert.All(models, m =>
        {
            Assert.Equal("model", m.GetProperty("object").GetString());
            Assert.True(m.GetProperty("created").GetInt64() > 0);
            Assert.Equal("llmstack", m.GetProperty("owned_by").GetString());
            Assert.Equal(InMemoryBackend.BackendName, m.GetProperty("backend").GetString());
            Assert.False(m.TryGetProperty("demo", out _));
        });
    }

    [Fact]
    public async Task Built_in_demo_model_is_labelled_as_a_demo()
    {
        await using var app = new ApiApplication([]);
        using var client = app.CreateClient();

        using var json = JsonDocument.Parse(await client.GetStringAsync("/v1/models", Cancel));

        var model = Assert.Single(json.RootElement.GetProperty("data").EnumerateArray().ToList());
        Assert.Equal("llmstack-demo", model.GetProperty("id").GetString());
        Assert.True(model.GetProperty("demo").GetBoolean());
        Assert.Equal("embedded", model.GetProperty("backend").GetString());
        Assert.Contains("demo", model.GetProperty("owned_by").GetString());
    }

    [Fact]
    public async Task One_model_is_found_by_an_id_with_slashes_and_colons()
    {
        await using var app = InMemoryBackend.Serve(("org/beta:7b", InMemoryChatClient.Replying(["b"])));
        using var client = app.CreateClient();

        using var json = JsonDocument.Parse(await client.GetStringAsync("/v1/models/org/beta:7b", Cancel));

        Assert.Equal("org/beta:7b", json.RootElement.GetProperty("id").GetString());
        Assert.Equal("model", json.RootElement.GetProperty("object").GetString());
    }

    [Fact]
    public async Task Unknown_model_is_404_model_not_found()
    {
        await using var app = InMemoryBackend.Serve(("alpha", InMemoryChatClient.Replying(["a"])));
        using var client = app.CreateClient();

        using var response = await client.GetAsync("/v1/models/nope", Cancel);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        var error = await ErrorEnvelope.ReadAsync(response);
        Assert.Equal("model_not_found", error.Code);
        Assert.Equal("model", error.Param);
    }
}
