namespace LlmStack.Api.Configuration;

/// <summary><c>LlmStack:Models:&lt;n&gt;:Ollama:*</c>: what the ollama backend sends with every request of the model.</summary>
public sealed class OllamaModelOptions
{
    /// <summary>Ollama <c>num_ctx</c>: the context window Ollama allocates for this model; default: Ollama's (or the Modelfile's).</summary>
    public int? NumCtx { get; set; }

    /// <summary>Ollama <c>keep_alive</c>: how long the model stays loaded after a request (e.g. <c>30m</c>, <c>-1</c>); default: Ollama's (5m).</summary>
    public string? KeepAlive { get; set; }
}
