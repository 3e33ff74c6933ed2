using LlmStack.Api.Configuration;
using LlmStack.Api.Pipeline;

namespace LlmStack.Api.Backends;

/// <summary>
/// One kind of place a model can run (<c>ollama</c>, <c>openai</c>, <c>embedded</c>). A backend only turns
/// configuration into an <see cref="Microsoft.Extensions.AI.IChatClient"/>; validation of requests, metrics,
/// logging, streaming and errors live above it, once for all backends.
/// </summary>
internal interface IModelBackend
{
    /// <summary>The value of <c>LlmStack:Models:&lt;n&gt;:Backend</c> that selects this backend.</summary>
    string Name { get; }

    /// <summary>
    /// Configuration problems of one model entry, each naming its key (<paramref name="keyPrefix"/> is
    /// e.g. <c>LlmStack:Models:0</c>). Empty when the entry is usable.
    /// </summary>
    IEnumerable<string> Validate(ModelOptions options, string keyPrefix);

    /// <summary>
    /// Brings the model up: builds its clients, loads weights, learns what the backend tells about the model (its
    /// context length). Called once, at start. Throws <see cref="ModelLoadException"/> with a message naming the
    /// file or key when it cannot.
    /// </summary>
    Task<ServedModel> CreateAsync(ModelOptions options, CancellationToken cancellationToken);
}
