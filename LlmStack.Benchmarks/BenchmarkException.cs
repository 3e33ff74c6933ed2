namespace LlmStack.Benchmarks;

/// <summary>A run that cannot go on (the API did not start, a measured request failed): its message says why, no stack trace needed.</summary>
public sealed class BenchmarkException(string message) : Exception(message);
