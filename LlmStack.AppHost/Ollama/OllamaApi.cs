using System.Net;
using Microsoft.Extensions.DependencyInjection;
using OllamaSharp;

namespace LlmStack.AppHost.Ollama;

/// <summary>Clients for the AppHost's own calls to an Ollama server (health, pulls, dashboard commands).</summary>
internal static class OllamaApi
{
    public const string HttpClientName = "ollama-apphost";

    /// <summary>How long a health probe may take; a server slower than this is not healthy.</summary>
    public static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The AppHost's client for Ollama calls. Its request logging is off: health probes every few seconds
    /// would flood the AppHost's console, and failures show in the resources' health and logs anyway.
    /// </summary>
    public static IServiceCollection AddOllamaHttpClient(this IServiceCollection services)
    {
        services.AddHttpClient(HttpClientName).RemoveAllLoggers();
        return services;
    }

    /// <summary>
    /// A client for the server's current address. The HttpClient has no timeout of its own: a pull streams for
    /// as long as the download lasts, and every call passes a token that bounds it.
    /// </summary>
    public static async Task<OllamaApiClient> ConnectAsync(IOllamaResource server, IServiceProvider services, CancellationToken cancellationToken)
    {
        var baseUrl = await server.UriExpression.GetValueAsync(cancellationToken)
            ?? throw new InvalidOperationException($"The Ollama server '{server.Name}' has no URL yet.");
        var http = services.GetRequiredService<IHttpClientFactory>().CreateClient(HttpClientName);
        http.BaseAddress = new Uri(baseUrl.TrimEnd('/') + "/");
        http.Timeout = Timeout.InfiniteTimeSpan;
        return new OllamaApiClient(http);
    }

    /// <summary>Whether the server has the model (<c>/api/show</c>), resolving a missing tag the way Ollama does.</summary>
    public static async Task<bool> HasModelAsync(this OllamaApiClient ollama, string modelName, CancellationToken cancellationToken)
    {
        try
        {
            await ollama.ShowModelAsync(modelName, cancellationToken);
            return true;
        }
        catch (HttpRequestException ex) when (ex.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
    }
}
