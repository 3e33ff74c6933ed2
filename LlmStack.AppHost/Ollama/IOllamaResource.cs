namespace LlmStack.AppHost.Ollama;

/// <summary>
/// An Ollama server, wherever it runs (container, local process, or an existing server). Models are added
/// as its children and pulled once it is healthy.
/// </summary>
public interface IOllamaResource : IResource
{
    /// <summary>The server's base URL as the AppHost and the services it starts reach it (<c>http://host:port</c>).</summary>
    ReferenceExpression UriExpression { get; }
}
