namespace LlmStack.Gguf;

/// <summary>
/// Produces the values of a tensor, a chunk at a time: <paramref name="destination"/> receives the elements
/// starting at <paramref name="firstElement"/> (row-major in ggml order: the first dimension is contiguous).
/// Chunks keep memory flat for multi-gigabyte tensors.
/// </summary>
public delegate void TensorFill(long firstElement, Span<float> destination);
