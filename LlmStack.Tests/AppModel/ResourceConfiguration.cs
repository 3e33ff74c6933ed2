using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.Logging.Abstractions;

namespace LlmStack.Tests.AppModel;

/// <summary>
/// A resource's arguments and environment as the manifest would write them: endpoint references stay
/// expressions (<c>{ollama.bindings.http.url}</c>), so nothing needs to be allocated or started.
/// </summary>
internal static class ResourceConfiguration
{
    public static async Task<Dictionary<string, string>> PublishedEnvironmentAsync(IResource resource)
    {
        var result = await BuildAsync(ExecutionConfigurationBuilder.Create(resource).WithEnvironmentVariablesConfig());
        return result.EnvironmentVariables.ToDictionary();
    }

    public static async Task<string[]> PublishedArgumentsAsync(IResource resource)
    {
        var result = await BuildAsync(ExecutionConfigurationBuilder.Create(resource).WithArgumentsConfig());
        return [.. result.Arguments.Select(a => a.Value)];
    }

    private static async Task<IExecutionConfigurationResult> BuildAsync(IExecutionConfigurationBuilder builder)
    {
        var result = await builder
            .BuildAsync(new DistributedApplicationExecutionContext(DistributedApplicationOperation.Publish), NullLogger.Instance, TestContext.Current.CancellationToken)
            .WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        return result.Exception is { } error ? throw error : result;
    }
}
