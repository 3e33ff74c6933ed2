namespace LlmStack.Gguf;

/// <summary>Tensor element types this writer can encode (ggml's type ids).</summary>
public enum GgmlType : uint
{
    F32 = 0,
    F16 = 1,
    Q8_0 = 8,
}
