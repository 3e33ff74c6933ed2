using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using LlmStack.Tests.Api.Access;
using LlmStack.Tests.Fixtures;

namespace LlmStack.Tests.Api.Responses;

/// <summary>Stored responses belong to the key that created them; one key's flood evicts only its own.</summary>
public sealed class ResponseTenancyTests
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private static ApiApplication Serve(Dictionary<string, string?>? settings = null)
    {
        settings ??= [];
        foreach (var (key, value) in ApiKeyTests.Keys((ApiKeyTests.Key, "alice"), (ApiKeyTests.OtherKey, "bob")))
        {
            settings[key] = value;
        }
        return InMemoryBackend.Serve(settings, ("scripted", InMemoryChatClient.Replying(["Hel", "lo"])));
    }

    private static async Task<HttpResponseMessage> SendAsync(HttpClient client, HttpMethod method, string path, string key, string? body = null)
    {
        using var request = new HttpRequestMessage(method, path)
        {
            Content = body is null ? null : new StringContent(body, Encoding.UTF8, "application/json"),
            Headers = { Authorization = new AuthenticationHeaderValue("Bearer", key) },
        };
        var response = await client.SendAsync(request, Cancel);
        await response.Content.LoadIntoBufferAsync(Cancel);
        return response;
    }

    private static async Task<string> CreateAsync(HttpClient client, string key, string input = "hi", string? previous = null)
    {
        var continued = previous is null ? "" : $",\"previous_response_id\":\"{previous}\"";
        using var response = await SendAsync(client, HttpMethod.Post, "/v1/responses", key, $$"""{"model":"scripted","input":{{JsonSerializer.Serialize(input)}}{{continued}}}""");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync(Cancel)).RootElement.GetProperty("id").GetString()!;
    }

    [Fact]
    public async Task Another_key_gets_404_for_a_response_on_get_delete_and_continue_and_the_owner_keeps_it()
    {
        await using var app = Serve();
        using var client = app.CreateClient();
        var id = await CreateAsync(client, ApiKeyTests.Key);

        using var get = await SendAsync(client, HttpMethod.Get, $"/v1/responses/{id}", ApiKeyTests.OtherKey);
        using var delete = await SendAsync(client, HttpMethod.Delete, $"/v1/responses/{id}", ApiKeyTests.OtherKey);
        using var continued = await SendAsync(client, HttpMethod.Post, "/v1/responses", ApiKeyTests.OtherKey,
            $$"""{"model":"scripted","input":"more","previous_response_id":"{{id}}"}""");

        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
        Assert.Equal("response_not_found", (await ErrorEnvelope.ReadAsync(get)).Code);
        Assert.Equal(HttpStatusCode.NotFound, delete.StatusCode);
        Assert.Equal("response_not_found", (await ErrorEnvelope.ReadAsync(delete)).Code);
        Assert.Equal(HttpStatusCode.NotFound, continued.StatusCode);
        Assert.Equal("previous_response_not_found", (await ErrorEnvelope.ReadAsync(continued)).Code);

        // The owner still reads, continues and deletes it.
        using var own = await SendAsync(client, HttpMethod.Get, $"/v1/responses/{id}", ApiKeyTests.Key);
        Assert.Equal(HttpStatusCode.OK, own.StatusCode);
        await CreateAsync(client, ApiKeyTests.Key, "more", previous: id);
        using var ownDelete = await SendAsync(client, HttpMethod.Delete, $"/v1/responses/{id}", ApiKeyTests.Key);
        Assert.Equal(HttpStatusCode.OK, ownDelete.StatusCode);
    }

    [Fact]
    public async Task A_key_that_fills_its_share_of_the_store_loses_its_own_oldest_responses_never_another_key_s()
    {
        // 2 keys: 24 KB each. Each response below stores ~2.5 KB of input.
        await using var app = Serve(new() { ["LlmStack:Responses:MaxStoredBytes"] = (48 * 1024).ToString(CultureInfo.InvariantCulture) });
        using var client = app.CreateClient();
        var input = new string('x', 2500);
        var alices = await CreateAsync(client, ApiKeyTests.Key, input);

        var bobs = new List<string>();
        for (var i = 0; i < 40; i++)
        {
            bobs.Add(await CreateAsync(client, ApiKeyTests.OtherKey, input));
        }

        using var alice = await SendAsync(client, HttpMethod.Get, $"/v1/responses/{alices}", ApiKeyTests.Key);
        Assert.Equal(HttpStatusCode.OK, alice.StatusCode);
        using var bobsFirst = await SendAsync(client, HttpMethod.Get, $"/v1/responses/{bobs[0]}", ApiKeyTests.OtherKey);
        Assert.Equal(HttpStatusCode.NotFound, bobsFirst.StatusCode);
        using var bobsLast = await SendAsync(client, HttpMethod.Get, $"/v1/responses/{bobs[^1]}", ApiKeyTests.OtherKey);
        Assert.Equal(HttpStatusCode.OK, bobsLast.StatusCode);
        // Bob keeps what fits his share: about 24 KB / 2.6 KB, not one.
        var kept = 0;
        foreach (var id in bobs)
        {
            using var response = await SendAsync(client, HttpMethod.Get, $"/v1/responses/{id}", ApiKeyTests.OtherKey);
            kept += response.StatusCode == HttpStatusCode.OK ? 1 : 0;
        }
        Assert.InRange(kept, 6, 9);
    }
}
