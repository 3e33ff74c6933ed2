namespace LlmStack.AppHost.Ollama;

/// <summary>Ollama in a container (<c>ollama/ollama</c>), serving its API on the <c>http</c> endpoint.</summary>
public sealed class OllamaResource(string name) : ContainerResource(name), IOllamaResource
{
    internal const string HttpEndpointName = "http";
    internal const int DefaultPort = 11434;
    internal const string DataPath = "/root/.ollama";

    private EndpointReference? _primaryEndpoint;

    public EndpointReference PrimaryEndpoint => _primaryEndpoint ??= new(this, HttpEndpointName);

    public ReferenceExpression UriExpression => ReferenceExpression.Create($"{PrimaryEndpoint}");
}
