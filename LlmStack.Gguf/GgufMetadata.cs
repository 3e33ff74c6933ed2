using System.Text;

namespace LlmStack.Gguf;

/// <summary>
/// The scalar metadata of a GGUF file's header (numbers, booleans and strings; arrays such as the vocabulary are
/// skipped) and its tensors' names, read without loading the model: what a memory check needs before llama.cpp
/// allocates anything, and whether the model has a part (a rerank head) before llama.cpp is asked to use it.
/// </summary>
public sealed class GgufMetadata
{
    private const uint Magic = 0x46554747; // "GGUF"

    // Bounds against a hostile or broken header: no key or string is longer, no header has more entries.
    private const ulong MaxStringBytes = 16 << 20;
    private const ulong MaxEntries = 1 << 20;

    private readonly Dictionary<string, object> _values;

    private GgufMetadata(Dictionary<string, object> values, ulong tensorCount, IReadOnlySet<string> tensorNames)
    {
        _values = values;
        TensorCount = tensorCount;
        TensorNames = tensorNames;
    }

    public ulong TensorCount { get; }

    /// <summary>The names of the file's tensors (<c>token_embd.weight</c>, <c>cls.output.weight</c>, ...).</summary>
    public IReadOnlySet<string> TensorNames { get; }

    /// <summary><c>general.architecture</c> (e.g. <c>qwen2</c>, <c>llama</c>).</summary>
    public string? Architecture => _values.GetValueOrDefault("general.architecture") as string;

    /// <summary>Every scalar entry by key.</summary>
    public IReadOnlyDictionary<string, object> Values => _values;

    /// <summary>An unsigned or signed integer entry, as a long; null when absent or not an integer.</summary>
    public long? Integer(string key) => _values.GetValueOrDefault(key) switch
    {
        byte v => v,
        sbyte v => v,
        ushort v => v,
        short v => v,
        uint v => v,
        int v => v,
        ulong v => (long)Math.Min(v, long.MaxValue),
        long v => v,
        _ => null,
    };

    /// <summary>An integer entry of the model's architecture (<c>&lt;arch&gt;.block_count</c> for <c>block_count</c>).</summary>
    public long? ArchitectureInteger(string name) => Architecture is { } arch ? Integer($"{arch}.{name}") : null;

    /// <exception cref="InvalidDataException">The file is not GGUF or its header is broken.</exception>
    public static GgufMetadata Read(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        using var reader = new BinaryReader(stream, Encoding.UTF8);
        try
        {
            if (reader.ReadUInt32() != Magic)
            {
                throw new InvalidDataException($"'{path}' is not a GGUF file.");
            }
            var version = reader.ReadUInt32();
            if (version is < 2 or > 3)
            {
                throw new InvalidDataException($"'{path}' is GGUF version {version}; versions 2 and 3 are read.");
            }
            var tensors = reader.ReadUInt64();
            var entries = reader.ReadUInt64();
            if (entries > MaxEntries || tensors > MaxEntries)
            {
                throw new InvalidDataException($"'{path}' claims {entries} metadata entries and {tensors} tensors.");
            }
            var values = new Dictionary<string, object>(StringComparer.Ordinal);
            for (ulong i = 0; i < entries; i++)
            {
                var key = ReadString(reader);
                var type = reader.ReadUInt32();
                if (ReadValue(reader, type) is { } value)
                {
                    values[key] = value;
                }
            }
            // Each tensor's info: name, dimension count, dimensions, type, offset.
            var names = new HashSet<string>(StringComparer.Ordinal);
            for (ulong i = 0; i < tensors; i++)
            {
                names.Add(ReadString(reader));
                var dimensions = reader.ReadUInt32();
                if (dimensions > 8)
                {
                    throw new InvalidDataException($"'{path}' has a tensor of {dimensions} dimensions.");
                }
                reader.BaseStream.Seek(dimensions * 8L + 4 + 8, SeekOrigin.Current);
            }
            return new GgufMetadata(values, tensors, names);
        }
        catch (EndOfStreamException ex)
        {
            throw new InvalidDataException($"'{path}' ends inside its GGUF header.", ex);
        }
    }

    /// <summary>The element count of an array entry (e.g. <c>tokenizer.ggml.tokens</c>: the vocabulary size); null when absent.</summary>
    public long? ArrayLength(string key) => _values.GetValueOrDefault(key) is GgufArray array ? (long)array.Count : null;

    // Scalars are returned; arrays are skipped, keeping their length.
    private static object? ReadValue(BinaryReader reader, uint type) => type switch
    {
        0 => reader.ReadByte(),
        1 => reader.ReadSByte(),
        2 => reader.ReadUInt16(),
        3 => reader.ReadInt16(),
        4 => reader.ReadUInt32(),
        5 => reader.ReadInt32(),
        6 => reader.ReadSingle(),
        7 => reader.ReadByte() != 0,
        8 => ReadString(reader),
        9 => SkipArray(reader),
        10 => reader.ReadUInt64(),
        11 => reader.ReadInt64(),
        12 => reader.ReadDouble(),
        _ => throw new InvalidDataException($"Unknown GGUF value type {type}."),
    };

    private sealed record GgufArray(uint ElementType, ulong Count);

    private static GgufArray SkipArray(BinaryReader reader)
    {
        var type = reader.ReadUInt32();
        var count = reader.ReadUInt64();
        var width = type switch
        {
            0 or 1 or 7 => 1,
            2 or 3 => 2,
            4 or 5 or 6 => 4,
            10 or 11 or 12 => 8,
            _ => 0,
        };
        if (width > 0)
        {
            reader.BaseStream.Seek(checked((long)count * width), SeekOrigin.Current);
        }
        else
        {
            for (ulong i = 0; i < count; i++)
            {
                ReadValue(reader, type);
            }
        }
        return new GgufArray(type, count);
    }

    private static string ReadString(BinaryReader reader)
    {
        var length = reader.ReadUInt64();
        if (length > MaxStringBytes)
        {
            throw new InvalidDataException($"A GGUF string of {length} bytes.");
        }
        return Encoding.UTF8.GetString(reader.ReadBytes((int)length));
    }
}
