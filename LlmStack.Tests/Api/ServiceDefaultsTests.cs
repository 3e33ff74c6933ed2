using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Options;

namespace LlmStack.Tests.Api;

/// <summary>
/// The LLM resilience pipeline a client opts into (the Web's chat client does): timeouts sized for a local model,
/// and a completion never sent twice. Clients that do not opt in get none.
/// </summary>
public sealed class ServiceDefaultsTests
{
    private const string ClientName = "llm";

    // The standard pipeline's options are named after the client: "<name>-standard".
    private const string DefaultsPipelineOptions = ClientName + "-standard";

    private const string PlainClientName = "plain";

    [Fact]
    public void Timeouts_are_sized_for_llm_calls()
    {
        using var host = BuildHost(new CountingHandler(HttpStatusCode.OK));

        var options = host.Services.GetRequiredService<IOptionsMonitor<HttpStandardResilienceOptions>>().Get(DefaultsPipelineOptions);
        using var client = host.Services.GetRequiredService<IHttpClientFactory>().CreateClient(ClientName);

        Assert.True(options.AttemptTimeout.Timeout >= TimeSpan.FromMinutes(5), $"attempt timeout {options.AttemptTimeout.Timeout}");
        Assert.True(options.TotalRequestTimeout.Timeout >= options.AttemptTimeout.Timeout);
        // HttpClient's own 100 s would cut a long generation short whatever the pipeline allows.
        Assert.Equal(Timeout.InfiniteTimeSpan, client.Timeout);
    }

    [Fact]
    public async Task A_failed_completion_is_not_sent_again()
    {
        var handler = new CountingHandler(HttpStatusCode.ServiceUnavailable);
        using var host = BuildHost(handler);
        using var client = host.Services.GetRequiredService<IHttpClientFactory>().CreateClient(ClientName);

        using var response = await client.PostAsync("http://api/v1/chat/completions", new StringContent("{}"), TestContext.Current.CancellationToken)
            .WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal(1, handler.Requests);
    }

    [Fact]
    public async Task A_failed_read_is_retried()
    {
        var handler = new CountingHandler(HttpStatusCode.ServiceUnavailable);
        using var host = BuildHost(handler);
        using var client = host.Services.GetRequiredService<IHttpClientFactory>().CreateClient(ClientName);

        using var response = await client.GetAsync("http://api/v1/models", TestContext.Current.CancellationToken)
            .WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);

        Assert.True(handler.Requests > 1, $"{handler.Requests} request(s)");
    }

    [Fact]
    public async Task A_client_that_does_not_opt_in_is_not_retried()
    {
        var handler = new CountingHandler(HttpStatusCode.ServiceUnavailable);
        using var host = BuildHost(handler);
        using var client = host.Services.GetRequiredService<IHttpClientFactory>().CreateClient(PlainClientName);

        using var response = await client.GetAsync("http://api/v1/models", TestContext.Current.CancellationToken)
            .WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal(1, handler.Requests);
    }

    private static IHost BuildHost(CountingHandler handler)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.AddServiceDefaults();
        builder.Services.AddHttpClient(ClientName).ConfigurePrimaryHttpMessageHandler(() => handler).AddLlmResilienceHandler();
        builder.Services.AddHttpClient(PlainClientName).ConfigurePrimaryHttpMessageHandler(() => handler);
        // Only the back-off changes, so that the GET's retries take milliseconds instead of ~14 s.
        builder.Services.PostConfigure<HttpStandardResilienceOptions>(DefaultsPipelineOptions, o => o.Retry.Delay = TimeSpan.Zero);
        return builder.Build();
    }

    private sealed class CountingHandler(HttpStatusCode status) : HttpMessageHandler
    {
        private int _requests;

        public int Requests => _requests;

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _requests);
            return Task.FromResult(new HttpResponseMessage(status));
        }
    }
}
