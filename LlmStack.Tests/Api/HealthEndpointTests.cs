using Microsoft.AspNetCore.Mvc.Testing;

namespace LlmStack.Tests.Api;

public sealed class HealthEndpointTests
{
    [Fact]
    public async Task Liveness_answers_200()
    {
        await using var app = new WebApplicationFactory<Program>();
        using var client = app.CreateClient();
        using var response = await client.GetAsync("/healthz", TestContext.Current.CancellationToken);
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
    }
}
