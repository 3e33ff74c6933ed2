using System.Net;
using LlmStack.Api;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace LlmStack.Tests.Api.Responses;

/// <summary>Where stored responses live (<c>LlmStack:Responses:*</c>), composed as Program.cs composes the API.</summary>
public sealed class ResponseStoreConfigurationTests
{
    [Fact]
    public async Task Store_is_in_memory_by_default_and_redis_when_a_connection_string_is_set()
    {
        await using var local = Build(new() { });
        await using var shared = Build(new() { ["LlmStack:Responses:Redis"] = "redis.invalid:6379,abortConnect=false" });

        Assert.IsType<MemoryDistributedCache>(local.Services.GetRequiredService<IDistributedCache>());
        // Resolving connects to nothing yet: the first stored response does.
        Assert.StartsWith("Microsoft.Extensions.Caching.StackExchangeRedis.RedisCache", shared.Services.GetRequiredService<IDistributedCache>().GetType().FullName);
    }

    [Theory]
    [InlineData("LlmStack:Responses:Retention", "-00:00:01", "LlmStack:Responses:Retention must be a positive duration")]
    [InlineData("LlmStack:Responses:MaxStoredBytes", "0", "LlmStack:Responses:MaxStoredBytes must be a positive number of bytes")]
    public async Task A_bad_store_setting_stops_the_api_at_start_naming_its_key(string key, string value, string expected)
    {
        await using var app = Build(new() { [key] = value });

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync(TestContext.Current.CancellationToken));

        Assert.Contains(error.Failures, failure => failure.StartsWith(expected, StringComparison.Ordinal));
    }

    private static WebApplication Build(Dictionary<string, string?> settings)
    {
        var builder = WebApplication.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(settings
            .Append(KeyValuePair.Create("OTEL_EXPORTER_OTLP_ENDPOINT", (string?)""))
            .Append(KeyValuePair.Create("LlmStack:Models:0:Id", (string?)"m"))
            .Append(KeyValuePair.Create("LlmStack:Models:0:Backend", (string?)"ollama"))
            .Append(KeyValuePair.Create("LlmStack:Models:0:Endpoint", (string?)"http://127.0.0.1:9")));
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        builder.AddLlmStackApi();
        var app = builder.Build();
        app.UseLlmStackApi();
        return app;
    }
}
