using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace LlmStack.Api.Contracts;

/// <summary>The body of POST /v1/embeddings.</summary>
internal sealed record EmbeddingRequest
{
    public string? Model { get; init; }

    /// <summary>A string or an array of strings (token arrays are refused).</summary>
    public JsonElement? Input { get; init; }

    /// <summary><c>float</c> (default) or <c>base64</c>, which the official SDKs ask for.</summary>
    public string? EncodingFormat { get; init; }

    public int? Dimensions { get; init; }

    public string? User { get; init; }
}

internal sealed record EmbeddingList
{
    public string Object => "list";

    public required List<EmbeddingData> Data { get; init; }

    public required string Model { get; init; }

    public required EmbeddingUsage Usage { get; init; }
}

internal sealed record EmbeddingData
{
    public string Object => "embedding";

    public int Index { get; init; }

    public required EmbeddingVector Embedding { get; init; }
}

/// <summary>A vector written as a JSON array of floats or as base64 of its little-endian float32 bytes.</summary>
[JsonConverter(typeof(EmbeddingVectorConverter))]
internal sealed record EmbeddingVector(ReadOnlyMemory<float> Values, bool AsBase64);

internal sealed record EmbeddingUsage
{
    public int PromptTokens { get; init; }

    public int TotalTokens { get; init; }
}

internal sealed class EmbeddingVectorConverter : JsonConverter<EmbeddingVector>
{
    public override EmbeddingVector Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        throw new NotSupportedException("Embedding vectors are only written.");

    public override void Write(Utf8JsonWriter writer, EmbeddingVector value, JsonSerializerOptions options)
    {
        if (value.AsBase64)
        {
            writer.WriteBase64StringValue(MemoryMarshal.AsBytes(value.Values.Span));
            return;
        }
        writer.WriteStartArray();
        foreach (var x in value.Values.Span)
        {
            writer.WriteNumberValue(x);
        }
        writer.WriteEndArray();
    }
}
