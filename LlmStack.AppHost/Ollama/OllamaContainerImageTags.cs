namespace LlmStack.AppHost.Ollama;

/// <summary>The pinned Ollama image: a floating tag would change the server under the app between two runs.</summary>
internal static class OllamaContainerImageTags
{
    public const string Registry = "docker.io";
    public const string Image = "ollama/ollama";
    public const string Tag = "0.13.0";
}
