using LlmStack.Api.Models;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace LlmStack.Tests.Backends;

/// <summary>
/// The API host configured with <c>LlmStack:Models</c> entries, so that backends are tested through the real
/// wiring: configuration validation, per-model HTTP clients with the service defaults, the catalog's pipeline.
/// </summary>
public sealed class BackendHost(params ModelOptions[] models) : WebApplicationFactory<Program>
{
    /// <summary>The model's client as the endpoints get it: the backend wrapped in the shared pipeline.</summary>
    public IChatClient ChatClient(string id) =>
        Services.GetRequiredService<ModelCatalog>().TryGet(id, out _, out var client)
            ? client
            : throw new ArgumentException($"No model '{id}' in this host.", nameof(id));

    public ServedModel Model(string id) => Services.GetRequiredService<ModelCatalog>().Models.Single(m => m.Id == id);

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.ConfigureAppConfiguration(configuration => configuration.AddInMemoryCollection(Settings(models)));
    }

    /// <summary>The configuration keys a user would write for <paramref name="models"/>.</summary>
    public static Dictionary<string, string?> Settings(params ModelOptions[] models)
    {
        var settings = new Dictionary<string, string?>();
        for (var i = 0; i < models.Length; i++)
        {
            var model = models[i];
            var key = $"LlmStack:Models:{i}:";
            settings[key + "Id"] = model.Id;
            settings[key + "Backend"] = model.Backend;
            settings[key + "Endpoint"] = model.Endpoint;
            settings[key + "UpstreamModel"] = model.UpstreamModel;
            settings[key + "ApiKey"] = model.ApiKey;
            settings[key + "Path"] = model.Path;
            settings[key + "ConnectTimeout"] = model.ConnectTimeout.ToString("c");
            settings[key + "FirstTokenTimeout"] = model.FirstTokenTimeout.ToString("c");
            settings[key + "NumCtx"] = model.NumCtx?.ToString();
            settings[key + "KeepAlive"] = model.KeepAlive;
        }
        return settings;
    }
}
