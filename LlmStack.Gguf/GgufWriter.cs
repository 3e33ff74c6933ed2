using System.Buffers;
using System.Runtime.InteropServices;
using System.Text;

namespace LlmStack.Gguf;

/// <summary>
/// Writes GGUF v3 files (the format llama.cpp loads): metadata key/values of every GGUF value type, tensor
/// infos, then tensor data aligned to <see cref="Alignment"/> bytes. Tensor data is generated while writing,
/// so files far larger than memory can be written.
/// </summary>
/// <example>
/// <code>
/// new GgufWriter()
///     .Add("general.architecture", "llama")
///     .AddTensor("output_norm.weight", GgmlType.F32, [64], (_, values) => values.Fill(1f))
///     .WriteTo("model.gguf");
/// </code>
/// </example>
public sealed class GgufWriter
{
    /// <summary>Alignment of tensor data (GGUF's default; <c>general.alignment</c> is not written).</summary>
    public const int Alignment = 32;

    private const uint Magic = 0x46554747; // "GGUF" read as a little-endian uint32
    private const uint Version = 3;
    private const int ChunkElements = 1 << 16;
    private const int Q8BlockSize = 32;

    private readonly List<(string Key, GgufValue Value)> _metadata = [];
    private readonly List<TensorInfo> _tensors = [];
    private readonly HashSet<string> _keys = new(StringComparer.Ordinal);

    public GgufWriter Add(string key, string value) => AddValue(key, new StringValue(RequireNonEmpty(value, key)));

    public GgufWriter Add(string key, uint value) => AddValue(key, new ScalarValue(GgufType.UInt32, w => w.Write(value)));

    public GgufWriter Add(string key, int value) => AddValue(key, new ScalarValue(GgufType.Int32, w => w.Write(value)));

    public GgufWriter Add(string key, ulong value) => AddValue(key, new ScalarValue(GgufType.UInt64, w => w.Write(value)));

    public GgufWriter Add(string key, float value) => AddValue(key, new ScalarValue(GgufType.Float32, w => w.Write(value)));

    public GgufWriter Add(string key, bool value) => AddValue(key, new ScalarValue(GgufType.Bool, w => w.Write(value)));

    public GgufWriter Add(string key, IReadOnlyList<string> values)
    {
        foreach (var value in values)
        {
            RequireNonEmpty(value, key);
        }
        return AddValue(key, new ArrayValue(GgufType.String, values.Count, w =>
        {
            foreach (var value in values)
            {
                WriteString(w, value);
            }
        }));
    }

    public GgufWriter Add(string key, IReadOnlyList<int> values) =>
        AddValue(key, new ArrayValue(GgufType.Int32, values.Count, w =>
        {
            foreach (var value in values)
            {
                w.Write(value);
            }
        }));

    public GgufWriter Add(string key, IReadOnlyList<float> values) =>
        AddValue(key, new ArrayValue(GgufType.Float32, values.Count, w =>
        {
            foreach (var value in values)
            {
                w.Write(value);
            }
        }));

    /// <summary>
    /// Declares a tensor. <paramref name="shape"/> is in ggml order (contiguous dimension first), e.g.
    /// <c>token_embd.weight</c> is <c>[n_embd, n_vocab]</c>.
    /// </summary>
    public GgufWriter AddTensor(string name, GgmlType type, ReadOnlySpan<long> shape, TensorFill fill)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(fill);
        if (shape.Length is < 1 or > 4)
        {
            throw new ArgumentException($"Tensor '{name}' has {shape.Length} dimensions; GGUF allows 1 to 4.", nameof(shape));
        }
        if (_tensors.Any(t => t.Name == name))
        {
            throw new ArgumentException($"Tensor '{name}' is declared twice.", nameof(name));
        }
        long elements = 1;
        foreach (var dimension in shape)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dimension, nameof(shape));
            elements *= dimension;
        }
        if (type == GgmlType.Q8_0 && shape[0] % Q8BlockSize != 0)
        {
            throw new ArgumentException($"Tensor '{name}': Q8_0 needs the first dimension to be a multiple of {Q8BlockSize}.", nameof(shape));
        }
        _tensors.Add(new TensorInfo(name, type, shape.ToArray(), elements, fill));
        return this;
    }

    /// <summary>Total bytes of tensor data, padding included.</summary>
    public long TensorDataLength => _tensors.Sum(t => Align(t.ByteLength));

    public void WriteTo(string path)
    {
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 1 << 20);
        WriteTo(file);
    }

    public void WriteTo(Stream stream)
    {
        using var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
        writer.Write(Magic);
        writer.Write(Version);
        writer.Write((ulong)_tensors.Count);
        writer.Write((ulong)_metadata.Count);
        foreach (var (key, value) in _metadata)
        {
            WriteString(writer, key);
            writer.Write((uint)value.Type);
            value.WritePayload(writer);
        }

        long offset = 0;
        foreach (var tensor in _tensors)
        {
            WriteString(writer, tensor.Name);
            writer.Write((uint)tensor.Shape.Length);
            foreach (var dimension in tensor.Shape)
            {
                writer.Write((ulong)dimension);
            }
            writer.Write((uint)tensor.Type);
            writer.Write((ulong)offset);
            offset += Align(tensor.ByteLength);
        }
        writer.Flush();
        WritePadding(stream, stream.Position);

        foreach (var tensor in _tensors)
        {
            WriteTensorData(stream, tensor);
            WritePadding(stream, tensor.ByteLength);
        }
        stream.Flush();
    }

    private GgufWriter AddValue(string key, GgufValue value)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        if (!_keys.Add(key))
        {
            throw new ArgumentException($"Metadata key '{key}' is written twice.", nameof(key));
        }
        _metadata.Add((key, value));
        return this;
    }

    // LLamaSharp's metadata reader throws on empty strings, so a file containing one would not load.
    private static string RequireNonEmpty(string value, string key) =>
        string.IsNullOrEmpty(value) ? throw new ArgumentException($"Metadata '{key}' holds an empty string, which LLamaSharp cannot read.", nameof(value)) : value;

    private static void WriteString(BinaryWriter writer, string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        writer.Write((ulong)bytes.Length);
        writer.Write(bytes);
    }

    private static long Align(long length) => (length + Alignment - 1) / Alignment * Alignment;

    private static void WritePadding(Stream stream, long length)
    {
        Span<byte> zeros = stackalloc byte[Alignment];
        zeros.Clear();
        stream.Write(zeros[..(int)(Align(length) - length)]);
    }

    private static void WriteTensorData(Stream stream, TensorInfo tensor)
    {
        var values = ArrayPool<float>.Shared.Rent(ChunkElements);
        var bytes = ArrayPool<byte>.Shared.Rent(ChunkElements * sizeof(float));
        try
        {
            for (long first = 0; first < tensor.Elements; first += ChunkElements)
            {
                var count = (int)Math.Min(ChunkElements, tensor.Elements - first);
                var chunk = values.AsSpan(0, count);
                tensor.Fill(first, chunk);
                var encoded = Encode(tensor.Type, chunk, bytes);
                stream.Write(bytes, 0, encoded);
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(values);
            ArrayPool<byte>.Shared.Return(bytes);
        }
    }

    private static int Encode(GgmlType type, ReadOnlySpan<float> values, Span<byte> destination)
    {
        switch (type)
        {
            case GgmlType.F32:
                MemoryMarshal.AsBytes(values).CopyTo(destination);
                return values.Length * sizeof(float);
            case GgmlType.F16:
                var halves = MemoryMarshal.Cast<byte, Half>(destination[..(values.Length * 2)]);
                for (var i = 0; i < values.Length; i++)
                {
                    halves[i] = (Half)values[i];
                }
                return values.Length * 2;
            case GgmlType.Q8_0:
                return EncodeQ8_0(values, destination);
            default:
                throw new NotSupportedException($"Tensor type {type} cannot be written.");
        }
    }

    // Q8_0: blocks of 32 weights stored as an f16 scale followed by 32 signed bytes (weight = scale * q).
    // Chunks hold whole blocks because the chunk size and every row length are multiples of 32.
    private static int EncodeQ8_0(ReadOnlySpan<float> values, Span<byte> destination)
    {
        var written = 0;
        for (var block = 0; block < values.Length; block += Q8BlockSize)
        {
            var weights = values.Slice(block, Q8BlockSize);
            var max = 0f;
            foreach (var w in weights)
            {
                max = Math.Max(max, Math.Abs(w));
            }
            var scale = max / 127f;
            var inverse = scale == 0 ? 0 : 1 / scale;
            MemoryMarshal.Write(destination[written..], (Half)scale);
            written += 2;
            for (var i = 0; i < Q8BlockSize; i++)
            {
                destination[written++] = (byte)(sbyte)Math.Round(weights[i] * inverse);
            }
        }
        return written;
    }

    private enum GgufType : uint
    {
        UInt32 = 4,
        Int32 = 5,
        Float32 = 6,
        Bool = 7,
        String = 8,
        Array = 9,
        UInt64 = 10,
    }

    private abstract record GgufValue(GgufType Type)
    {
        public abstract void WritePayload(BinaryWriter writer);
    }

    private sealed record ScalarValue(GgufType ScalarType, Action<BinaryWriter> Write) : GgufValue(ScalarType)
    {
        public override void WritePayload(BinaryWriter writer) => Write(writer);
    }

    private sealed record StringValue(string Value) : GgufValue(GgufType.String)
    {
        public override void WritePayload(BinaryWriter writer) => WriteString(writer, Value);
    }

    private sealed record ArrayValue(GgufType ElementType, int Count, Action<BinaryWriter> WriteElements) : GgufValue(GgufType.Array)
    {
        public override void WritePayload(BinaryWriter writer)
        {
            writer.Write((uint)ElementType);
            writer.Write((ulong)Count);
            WriteElements(writer);
        }
    }

    private sealed record TensorInfo(string Name, GgmlType Type, long[] Shape, long Elements, TensorFill Fill)
    {
        public long ByteLength => Type switch
        {
            GgmlType.F32 => Elements * 4,
            GgmlType.F16 => Elements * 2,
            GgmlType.Q8_0 => Elements / Q8BlockSize * (2 + Q8BlockSize),
            _ => throw new NotSupportedException($"Tensor type {Type} cannot be written."),
        };
    }
}
