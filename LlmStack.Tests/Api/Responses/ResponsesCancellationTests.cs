using System.Net.Http.Headers;
using System.Text;
using LlmStack.Api.Configuration;
using LlmStack.Api.Pipeline;
using LlmStack.Tests.Fixtures;

namespace LlmStack.Tests.Api.Responses;

/// <summary>A streamed response whose client goes away stops generating, as a chat completion does.</summary>
public sealed class ResponsesCancellationTests(GeneratedModels models)
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Client_that_goes_away_stops_the_generation_and_frees_the_slot()
    {
        await using var app = new ApiApplication([new ModelOptions { Id = "looping", Backend = "embedded", Path = models.Looping, Embedded = new() { ParallelSlots = 1 } }]);
        using var inFlight = new InFlightRequests(app.Services);
        // No draining of an abandoned response: disposing it must close the connection at once.
        using var client = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0 }) { BaseAddress = app.BaseAddress };
        using var abandon = CancellationTokenSource.CreateLinkedTokenSource(Cancel);

        var response = await SendAsync(client, """{"model":"looping","input":"Go on forever","stream":true}""", abandon.Token);
        var reader = new StreamReader(await response.Content.ReadAsStreamAsync(abandon.Token));
        Assert.Equal("event: response.created", await reader.ReadLineAsync(abandon.Token).AsTask().WaitAsync(Bound, Cancel));
        Assert.Equal(1, inFlight.Value);

        abandon.Cancel();
        response.Dispose();
        await inFlight.WaitUntilAsync(active => active == 0, TimeSpan.FromSeconds(5));

        // The only slot is free again: the next request is served, not queued behind a ghost.
        using var next = await SendAsync(client, """{"model":"looping","input":"Three words","max_output_tokens":3,"stream":true}""", Cancel);
        var body = await next.Content.ReadAsStringAsync(Cancel).WaitAsync(Bound, Cancel);
        Assert.Contains("event: response.incomplete", body);
    }

    private static async Task<HttpResponseMessage> SendAsync(HttpClient client, string body, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/responses") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        return await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
    }
}
