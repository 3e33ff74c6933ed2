namespace LlmStack.AppHost.Ollama;

/// <summary>An Ollama server the AppHost does not start (another machine, or one already running here).</summary>
public sealed class ExternalOllamaResource(string name, Uri uri) : Resource(name), IOllamaResource
{
    public Uri Uri { get; } = uri ?? throw new ArgumentNullException(nameof(uri));

    public ReferenceExpression UriExpression => ReferenceExpression.Create($"{Uri.AbsoluteUri.TrimEnd('/')}");
}
