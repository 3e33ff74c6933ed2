namespace LlmStack.AppHost.Hosting;

/// <summary>Where the AppHost runs Ollama (<c>Ollama:Mode</c>).</summary>
public enum OllamaHostingMode
{
    /// <summary>A container when a container runtime answers, else a local <c>ollama serve</c>, else none.</summary>
    Auto,

    /// <summary>The <c>ollama/ollama</c> container. Always the choice when publishing.</summary>
    Container,

    /// <summary><c>ollama serve</c> from PATH, as a process of the AppHost.</summary>
    Local,

    /// <summary>An Ollama server that already runs, at <c>Ollama:Url</c>.</summary>
    External,

    /// <summary>No Ollama: the API serves its built-in embedded demo model.</summary>
    None,
}
