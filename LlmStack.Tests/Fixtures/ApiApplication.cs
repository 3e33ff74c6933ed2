using System.Globalization;
using System.Net;
using LlmStack.Api.Configuration;
using LlmStack.Api.Pipeline;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace LlmStack.Tests.Fixtures;

/// <summary>
/// LlmStack.Api on real Kestrel at a loopback port, serving exactly the given models (written as
/// <c>LlmStack:Models:&lt;n&gt;:*</c> settings, the way the AppHost configures it). Real HTTP matters: SSE
/// flushing, client disconnects and the OpenAI SDK's own transport are only exercised over a socket.
/// </summary>
/// <remarks>
/// The OTLP exporter is switched off (a blank <c>OTEL_EXPORTER_OTLP_ENDPOINT</c>) so that nothing waits on a
/// collector at shutdown. Use <see cref="BaseAddress"/> for clients that bring their own transport (the OpenAI
/// SDK, a raw <see cref="HttpClient"/> with a custom handler), or <c>CreateClient()</c>.
/// </remarks>
public class ApiApplication : WebApplicationFactory<Program>
{
    private readonly IReadOnlyList<ModelOptions> _models;
    private readonly IReadOnlyDictionary<string, string?> _settings;
    private readonly Action<IServiceCollection>? _configureServices;

    /// <param name="models">The models to serve; none means the built-in demo model.</param>
    /// <param name="settings">Further configuration (e.g. <c>LlmStack:LogContent</c>).</param>
    /// <param name="configureServices">Test services added after the API's own (e.g. an extra backend).</param>
    public ApiApplication(
        IEnumerable<ModelOptions> models,
        IReadOnlyDictionary<string, string?>? settings = null,
        Action<IServiceCollection>? configureServices = null)
    {
        _models = [.. models];
        _settings = settings ?? new Dictionary<string, string?>();
        _configureServices = configureServices;
        UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
    }

    /// <summary>The server's root URL (<c>http://127.0.0.1:&lt;port&gt;/</c>); starts the server on first use.</summary>
    public Uri BaseAddress => this.RootAddress();

    /// <summary>The OpenAI-compatible root: what an OpenAI client takes as its endpoint.</summary>
    public Uri OpenAIEndpoint => new(BaseAddress, "v1/");

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("OTEL_EXPORTER_OTLP_ENDPOINT", "");
        for (var i = 0; i < _models.Count; i++)
        {
            foreach (var (key, value) in ToSettings(_models[i]))
            {
                builder.UseSetting($"{LlmStackOptions.SectionName}:Models:{i}:{key}", value);
            }
        }
        foreach (var (key, value) in _settings)
        {
            builder.UseSetting(key, value);
        }
        if (_configureServices is not null)
        {
            builder.ConfigureServices(_configureServices);
        }
    }

    // Every property the configuration binder would read back, sections (Embedded, Ollama) as nested keys and lists
    // (Replicas) as numbered ones, so that a new ModelOptions setting needs no change here.
    private static IEnumerable<(string Key, string Value)> ToSettings(object options) => options is System.Collections.IList list
        ? list.Cast<object>().SelectMany((item, index) => ToSettings(item).Select(nested => ($"{index}:{nested.Key}", nested.Value)))
        : from property in options.GetType().GetProperties()
        where property.CanWrite
        let value = property.GetValue(options)
        where value is not null
        from setting in value is string or ValueType
            ? [(property.Name, Convert.ToString(value, CultureInfo.InvariantCulture)!)]
            : ToSettings(value).Select(nested => ($"{property.Name}:{nested.Key}", nested.Value))
        select setting;
}
