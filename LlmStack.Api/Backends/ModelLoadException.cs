namespace LlmStack.Api.Backends;

/// <summary>A configured model that cannot be brought up (unreadable or invalid GGUF, ...).</summary>
internal sealed class ModelLoadException(string message, Exception? inner = null) : Exception(message, inner);
