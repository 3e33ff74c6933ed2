namespace LlmStack.AppHost.Ollama;

/// <summary>
/// <c>ollama serve</c> run as a local process: on macOS the fastest option, since containers get no Metal GPU.
/// It shares the user's model store (<c>~/.ollama</c>), so models pulled earlier are reused.
/// </summary>
public sealed class OllamaExecutableResource(string name, string command, string workingDirectory)
    : ExecutableResource(name, command, workingDirectory), IOllamaResource
{
    internal const string HttpEndpointName = "http";

    private EndpointReference? _primaryEndpoint;

    public EndpointReference PrimaryEndpoint => _primaryEndpoint ??= new(this, HttpEndpointName);

    public ReferenceExpression UriExpression => ReferenceExpression.Create($"{PrimaryEndpoint}");
}
