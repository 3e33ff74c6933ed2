using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using LlmStack.Api.Configuration;
using LlmStack.Gguf;
using LlmStack.Tests.Fixtures;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace LlmStack.Tests.Api;

/// <summary>
/// <c>/v1/rerank</c> with a generated reranker run by llama.cpp's rank pooling (its scores are known from its weights:
/// <see cref="RerankerModel"/>), and passed through to an upstream's rerank endpoint.
/// </summary>
public sealed class RerankApiTests(RerankApiTests.Server server) : IClassFixture<RerankApiTests.Server>
{
    private const string Query = "Which city is the capital?";

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_generated_reranker_ranks_documents_in_the_order_its_weights_define()
    {
        string[] documents = ["tractor", "cheese", "Paris", "France", "bread"];

        var answer = await PostAsync("/v1/rerank", new JsonObject { ["model"] = "reranker", ["query"] = Query, ["documents"] = Texts(documents) });

        var results = answer["results"]!.AsArray();
        // Paris (1) > France (0.6) > cheese (0.3) > the irrelevant words, which tie and keep their order.
        Assert.Equal([2, 3, 1, 0, 4], results.Select(r => (int)r!["index"]!));
        Assert.Equal(["Paris", "France", "cheese", "tractor", "bread"], results.Select(r => (string?)r!["document"]!["text"]));
        var scores = results.Select(r => (double)r!["relevance_score"]!).ToList();
        Assert.True(scores[0] > scores[1] && scores[1] > scores[2] && scores[2] > scores[3], string.Join(", ", scores));
        Assert.Equal("reranker", (string?)answer["model"]);
        Assert.StartsWith("rerank-", (string?)answer["id"]);
    }

    [Fact]
    public async Task Scores_are_the_ones_the_weights_give_and_usage_counts_every_pair()
    {
        var queryTokens = await CountAsync(Query);
        string[] documents = ["Paris", "cheese France", "bread"];

        var answer = await PostAsync("/v1/rerank", new JsonObject { ["model"] = "reranker", ["query"] = Query, ["documents"] = Texts(documents) });

        var byIndex = answer["results"]!.AsArray().ToDictionary(r => (int)r!["index"]!, r => (double)r!["relevance_score"]!);
        var relevance = GeneratedModels.RerankerRelevance;
        float[] none = [.. Enumerable.Repeat(0f, queryTokens)];
        Assert.Equal(RerankerModel.Score([.. none, relevance["Paris"]]), byIndex[0], 3);
        Assert.Equal(RerankerModel.Score([.. none, relevance["cheese"], relevance["France"]]), byIndex[1], 3);
        Assert.Equal(RerankerModel.Score([.. none, .. Enumerable.Repeat(0f, await CountAsync("bread"))]), byIndex[2], 3);
        var pairTokens = queryTokens * 3 + 1 + 2 + await CountAsync("bread");
        Assert.Equal(pairTokens, (int)answer["usage"]!["prompt_tokens"]!);
        Assert.Equal(pairTokens, (int)answer["usage"]!["total_tokens"]!);
    }

    [Fact]
    public async Task Top_n_keeps_the_best_results_and_documents_can_be_left_out_or_sent_as_objects()
    {
        var answer = await PostAsync("/v1/rerank", new JsonObject
        {
            ["model"] = "reranker",
            ["query"] = Query,
            ["documents"] = new JsonArray(new JsonObject { ["text"] = "bread" }, new JsonObject { ["text"] = "France" }, new JsonObject { ["text"] = "Paris" }),
            ["top_n"] = 2,
            ["return_documents"] = false,
        });

        var results = answer["results"]!.AsArray();
        Assert.Equal([2, 1], results.Select(r => (int)r!["index"]!));
        Assert.All(results, r => Assert.Null(r!["document"]));
    }

    [Theory]
    [InlineData("""{"model":"reranker","documents":["a"]}""", "query", "missing_required_parameter")]
    [InlineData("""{"model":"reranker","query":"","documents":["a"]}""", "query", "invalid_value")]
    [InlineData("""{"model":"reranker","query":"q"}""", "documents", "missing_required_parameter")]
    [InlineData("""{"model":"reranker","query":"q","documents":[]}""", "documents", "invalid_value")]
    [InlineData("""{"model":"reranker","query":"q","documents":"a"}""", "documents", "invalid_type")]
    [InlineData("""{"model":"reranker","query":"q","documents":["a",7]}""", "documents[1]", "invalid_type")]
    [InlineData("""{"model":"reranker","query":"q","documents":["a",{"title":"b"}]}""", "documents[1].text", "missing_required_parameter")]
    [InlineData("""{"model":"reranker","query":"q","documents":["a"],"top_n":0}""", "top_n", "invalid_value")]
    [InlineData("""{"model":"reranker","query":["q"],"documents":["a"]}""", "query", "invalid_type")]
    public async Task Bad_input_is_a_400_naming_the_field(string body, string param, string code)
    {
        using var response = await server.Client.PostAsync("/v1/rerank", new StringContent(body, Encoding.UTF8, "application/json"), Cancel);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = await ErrorEnvelope.ReadAsync(response);
        Assert.Equal(param, error.Param);
        Assert.Equal(code, error.Code);
    }

    [Theory]
    [InlineData("chat", "it is not a reranker")]
    [InlineData("chat-only", "has no rerank support")]
    public async Task A_model_that_cannot_rerank_is_a_400_saying_why(string model, string reason)
    {
        using var response = await server.Client.PostAsJsonAsync("/v1/rerank",
            new JsonObject { ["model"] = model, ["query"] = "q", ["documents"] = new JsonArray("a") }, Cancel);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = await ErrorEnvelope.ReadAsync(response);
        Assert.Equal("unsupported_model", error.Code);
        Assert.Contains($"'{model}' cannot rerank", error.Message);
        Assert.Contains(reason, error.Message);
    }

    [Fact]
    public async Task An_upstream_reranks_and_the_API_orders_and_cuts_its_scores()
    {
        JsonObject? received = null;
        await using var upstream = await LoopbackWebServer.StartAsync(endpoints =>
        {
            endpoints.MapGet("/v1/models", () => Results.Json(new { @object = "list", data = System.Array.Empty<object>() }));
            // vLLM's answer: every document, its own order, total_tokens only.
            endpoints.MapPost("/v1/rerank", async (HttpContext context) =>
            {
                received = (await context.Request.ReadFromJsonAsync<JsonObject>())!;
                return Results.Json(new
                {
                    id = "rerank-upstream",
                    model = "BAAI/bge-reranker-v2-m3",
                    usage = new { total_tokens = 42 },
                    results = new object[]
                    {
                        new { index = 1, document = new { text = "b" }, relevance_score = 0.9 },
                        new { index = 0, document = new { text = "a" }, relevance_score = 0.1 },
                        new { index = 2, document = new { text = "c" }, relevance_score = 0.5 },
                    },
                });
            });
        });
        await using var app = new ApiApplication(
            [new ModelOptions { Id = "remote", Backend = "openai", Endpoint = new Uri(upstream.RootAddress, "v1").ToString(), UpstreamModel = "BAAI/bge-reranker-v2-m3" }]);
        using var client = app.CreateClient();

        using var response = await client.PostAsJsonAsync("/v1/rerank",
            new JsonObject { ["model"] = "remote", ["query"] = "q", ["documents"] = new JsonArray("a", "b", "c"), ["top_n"] = 2 }, Cancel);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var answer = JsonNode.Parse(await response.Content.ReadAsStringAsync(Cancel))!;
        Assert.Equal([1, 2], answer["results"]!.AsArray().Select(r => (int)r!["index"]!));
        Assert.Equal(["b", "c"], answer["results"]!.AsArray().Select(r => (string?)r!["document"]!["text"]));
        Assert.Equal(42, (int)answer["usage"]!["total_tokens"]!);
        Assert.Equal("BAAI/bge-reranker-v2-m3", (string?)received!["model"]);
        Assert.Equal(["a", "b", "c"], received["documents"]!.AsArray().Select(d => (string?)d));
        Assert.Null(received["top_n"]);
    }

    [Fact]
    public async Task An_upstream_without_rerank_is_a_400_saying_so()
    {
        await using var upstream = await LoopbackWebServer.StartAsync(endpoints =>
            endpoints.MapGet("/v1/models", () => Results.Json(new { @object = "list", data = System.Array.Empty<object>() })));
        await using var app = new ApiApplication([new ModelOptions { Id = "remote", Backend = "openai", Endpoint = new Uri(upstream.RootAddress, "v1").ToString() }]);
        using var client = app.CreateClient();

        using var response = await client.PostAsJsonAsync("/v1/rerank",
            new JsonObject { ["model"] = "remote", ["query"] = "q", ["documents"] = new JsonArray("a") }, Cancel);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("no rerank endpoint", (await ErrorEnvelope.ReadAsync(response)).Message);
    }

    private static JsonArray Texts(IEnumerable<string> texts) => new([.. texts.Select(t => (JsonNode)t)]);

    private async Task<int> CountAsync(string text) =>
        (int)(await PostAsync("/tokenize", new JsonObject { ["model"] = "reranker", ["content"] = text }))["count"]!;

    private async Task<JsonNode> PostAsync(string path, JsonObject body)
    {
        using var response = await server.Client.PostAsJsonAsync(path, body, Cancel);
        var text = await response.Content.ReadAsStringAsync(Cancel);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {(int)response.StatusCode} {text}");
        return JsonNode.Parse(text)!;
    }

    /// <summary>The API serving the generated reranker, a chat model, and a model whose backend has no rerank support.</summary>
    public sealed class Server(GeneratedModels models) : IAsyncLifetime
    {
        public ApiApplication App { get; private set; } = null!;

        public HttpClient Client { get; private set; } = null!;

        public ValueTask InitializeAsync()
        {
            var chatOnly = new InMemoryBackend(new Dictionary<string, InMemoryChatClient> { ["chat-only"] = InMemoryChatClient.Replying(["-"]) });
            App = new ApiApplication(
                [
                    new ModelOptions { Id = "reranker", Backend = "embedded", Path = models.Reranker },
                    new ModelOptions { Id = "chat", Backend = "embedded", Path = models.Scripted },
                    new ModelOptions { Id = "chat-only", Backend = InMemoryBackend.BackendName },
                ],
                configureServices: services => Microsoft.Extensions.DependencyInjection.ServiceCollectionServiceExtensions.AddSingleton<LlmStack.Api.Backends.IModelBackend>(services, chatOnly));
            Client = App.CreateClient();
            return ValueTask.CompletedTask;
        }

        public async ValueTask DisposeAsync()
        {
            Client.Dispose();
            await App.DisposeAsync();
        }
    }
}
