using System.Net;
using System.Text.Json.Nodes;
using Aspire.Hosting.Testing;

namespace LlmStack.Tests.EndToEnd;

/// <summary>The stack as the AppHost starts it: both services healthy, probes and metrics served.</summary>
public sealed class StackHealthTests(LlmStackAppFixture stack) : IClassFixture<LlmStackAppFixture>
{
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData("api")]
    [InlineData("web")]
    public async Task Liveness_answers_200(string service)
    {
        using var response = await GetAsync(service, "/healthz");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Api_is_ready_with_its_model_and_says_which_only_to_a_caller_with_the_key()
    {
        using var anonymous = await GetAsync("api", "/readyz");
        using var client = stack.App.CreateHttpClient("api");
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", LlmStackAppFixture.ApiKey);
        using var response = await client.GetAsync("/readyz", TestContext.Current.CancellationToken).WaitAsync(RequestTimeout, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, anonymous.StatusCode);
        Assert.Equal("""{"status":"Healthy"}""", await anonymous.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var report = JsonNode.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken))!;
        Assert.Equal("Healthy", (string?)report["status"]);
        Assert.Contains(report["checks"]!.AsArray(), check => (string?)check!["name"] == "models" && (string?)check["status"] == "Healthy");
    }

    [Fact]
    public async Task Web_is_ready()
    {
        using var response = await GetAsync("web", "/readyz");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Theory]
    [InlineData("api")]
    [InlineData("web")]
    public async Task Metrics_are_served_as_prometheus_text(string service)
    {
        // The AppHost's health probes have already gone through the service, so its request metrics exist.
        using var response = await GetAsync(service, "/metrics");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.Contains("# TYPE http_server_request_duration_seconds histogram", text);
    }

    [Fact]
    public async Task The_API_needs_the_stack_key()
    {
        using var anonymous = await GetAsync("api", "/v1/models");
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);

        using var client = stack.App.CreateHttpClient("api");
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", LlmStackAppFixture.ApiKey);
        using var models = await client.GetAsync("/v1/models", TestContext.Current.CancellationToken).WaitAsync(RequestTimeout, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, models.StatusCode);
    }

    private async Task<HttpResponseMessage> GetAsync(string service, string path)
    {
        using var client = stack.App.CreateHttpClient(service);
        return await client.GetAsync(path, TestContext.Current.CancellationToken).WaitAsync(RequestTimeout, TestContext.Current.CancellationToken);
    }
}
