namespace LlmStack.Gguf;

/// <summary>
/// A tensor to fill: <see cref="RowLength"/> is the contiguous dimension (ggml order), so element
/// <c>e</c> is at row <c>e / RowLength</c>, column <c>e % RowLength</c>. Projections map
/// <see cref="RowLength"/> inputs to <see cref="Rows"/> outputs.
/// </summary>
public sealed record TensorSlot(string Name, TensorRole Role, long RowLength, long Rows);
