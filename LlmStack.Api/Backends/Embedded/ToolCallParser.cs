using System.Text.Json;
using Microsoft.Extensions.AI;

namespace LlmStack.Api.Backends.Embedded;

/// <summary>
/// Separates Qwen2.5/Hermes-style tool calls from streamed text: each
/// <c>&lt;tool_call&gt;{"name": ..., "arguments": {...}}&lt;/tool_call&gt;</c> block becomes a
/// <see cref="FunctionCallContent"/>; everything else passes through as text. Text that may begin a block is
/// held back until it is known.
/// </summary>
internal sealed class ToolCallParser
{
    private const string Open = "<tool_call>";
    private const string Close = "</tool_call>";

    private string _pending = "";
    private bool _inCall;

    /// <summary>Adds decoded text; returns what can be sent now, in order.</summary>
    public IReadOnlyList<AIContent> Push(string text)
    {
        var output = new List<AIContent>();
        _pending += text;
        while (true)
        {
            if (_inCall)
            {
                var end = _pending.IndexOf(Close, StringComparison.Ordinal);
                if (end < 0)
                {
                    return output;
                }
                output.Add((AIContent?)ParseCall(_pending[..end]) ?? new TextContent(Open + _pending[..(end + Close.Length)]));
                _pending = _pending[(end + Close.Length)..].TrimStart('\n');
                _inCall = false;
                continue;
            }

            var start = _pending.IndexOf(Open, StringComparison.Ordinal);
            if (start >= 0)
            {
                AddText(output, _pending[..start]);
                _pending = _pending[(start + Open.Length)..];
                _inCall = true;
                continue;
            }
            var held = TagPrefix.HeldBack(_pending, Open);
            AddText(output, _pending[..^held]);
            _pending = _pending[^held..];
            return output;
        }
    }

    /// <summary>What is left when generation ends: an unclosed call is parsed if it is complete JSON, else kept as text.</summary>
    public IReadOnlyList<AIContent> Flush()
    {
        var output = new List<AIContent>();
        if (_inCall)
        {
            output.Add((AIContent?)ParseCall(_pending) ?? new TextContent(Open + _pending));
        }
        else
        {
            AddText(output, _pending);
        }
        _pending = "";
        _inCall = false;
        return output;
    }

    private FunctionCallContent? ParseCall(string json)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String
                || string.IsNullOrEmpty(name.GetString()))
            {
                return null;
            }
            var arguments = new Dictionary<string, object?>();
            if (root.TryGetProperty("arguments", out var args))
            {
                // Some models send the arguments as a JSON string.
                using var parsed = args.ValueKind == JsonValueKind.String ? JsonDocument.Parse(args.GetString()!) : null;
                var element = parsed?.RootElement ?? args;
                if (element.ValueKind != JsonValueKind.Object)
                {
                    return null;
                }
                foreach (var property in element.EnumerateObject())
                {
                    arguments[property.Name] = property.Value.Clone();
                }
            }
            return new FunctionCallContent($"call_{Guid.NewGuid():N}", name.GetString()!, arguments);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static void AddText(List<AIContent> output, string text)
    {
        if (text.Length > 0)
        {
            output.Add(new TextContent(text));
        }
    }
}
