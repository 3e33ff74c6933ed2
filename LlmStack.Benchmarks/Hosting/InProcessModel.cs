using LlmStack.Api.Backends;
using LlmStack.Api.Backends.Embedded;
using LlmStack.Api.Configuration;
using LlmStack.Api.Pipeline;
using Microsoft.Extensions.Logging.Abstractions;

namespace LlmStack.Benchmarks.Hosting;

/// <summary>A model served by the embedded backend inside this process: the baseline without the API's HTTP layer.</summary>
internal static class InProcessModel
{
    // The backend routes llama.cpp's native log (a screenful per context) to its logger: here, nowhere.
    private static readonly EmbeddedBackend Backend = new(NullLoggerFactory.Instance);

    /// <summary>Loads the model exactly as the API's embedded backend does; dispose it to unload it.</summary>
    public static Task<ServedModel> ServeAsync(ModelOptions options) => Backend.CreateAsync(options, CancellationToken.None);
}
