using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.AI;

namespace LlmStack.Api.Backends.Embedded;

/// <summary>
/// Separates Qwen2.5/Hermes-style tool calls from streamed text: each
/// <c>&lt;tool_call&gt;{"name": ..., "arguments": {...}}&lt;/tool_call&gt;</c> block becomes a
/// <see cref="FunctionCallContent"/>; everything else passes through as text. Text that may begin a block is
/// held back until it is known.
/// </summary>
/// <remarks>
/// A call's arguments stream as they are generated: once the block has written its name and the opening brace of its
/// <c>arguments</c> object, every piece of that object goes out as a <see cref="FunctionCallArgumentsContent"/>, up to
/// its closing brace; the block's end then gives the whole <see cref="FunctionCallContent"/> (same call id). A block
/// that turns out not to be a call is text, as ever, though some of its arguments went out already.
/// </remarks>
internal sealed partial class ToolCallParser
{
    private const string Open = "<tool_call>";
    private const string Close = "</tool_call>";

    private string _pending = "";
    private bool _inCall;

    // The call whose arguments are streaming: its id and name, where the next fragment starts in _pending, and the
    // JSON scanner's state there (depth of the arguments object, inside a string, after a backslash).
    private string? _callId;
    private string _name = "";
    private int _scanned;
    private int _depth;
    private bool _inString;
    private bool _escaped;
    private bool _argumentsDone;

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
                StreamArguments(output, end < 0 ? _pending.Length - TagPrefix.HeldBack(_pending, Close) : end);
                if (end < 0)
                {
                    return output;
                }
                output.Add((AIContent?)ParseCall(_pending[..end]) ?? new TextContent(Open + _pending[..(end + Close.Length)]));
                _pending = _pending[(end + Close.Length)..].TrimStart('\n');
                EndCall();
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
            StreamArguments(output, _pending.Length);
            output.Add((AIContent?)ParseCall(_pending) ?? new TextContent(Open + _pending));
        }
        else
        {
            AddText(output, _pending);
        }
        _pending = "";
        EndCall();
        return output;
    }

    private void EndCall()
    {
        _inCall = false;
        _callId = null;
        _name = "";
        _scanned = 0;
        _depth = 0;
        _inString = false;
        _escaped = false;
        _argumentsDone = false;
    }

    // The arguments object's text in _pending[.._available] not sent yet, once the block's start shows where it begins.
    private void StreamArguments(List<AIContent> output, int available)
    {
        if (_argumentsDone)
        {
            return;
        }
        if (_callId is null)
        {
            if (CallStart().Match(_pending) is not { Success: true } start || start.Length > available)
            {
                return;
            }
            try
            {
                using var name = JsonDocument.Parse(start.Groups["name"].Value);
                _name = name.RootElement.GetString()!;
            }
            catch (JsonException)
            {
                // Not a JSON string after all: the block is read whole at its end.
                _argumentsDone = true;
                return;
            }
            _callId = $"call_{Guid.NewGuid():N}";
            // From the arguments' opening brace.
            _scanned = start.Length - 1;
        }
        var from = _scanned;
        while (_scanned < available && !_argumentsDone)
        {
            var c = _pending[_scanned++];
            if (_inString)
            {
                if (_escaped)
                {
                    _escaped = false;
                }
                else if (c == '\\')
                {
                    _escaped = true;
                }
                else if (c == '"')
                {
                    _inString = false;
                }
                continue;
            }
            if (c == '"')
            {
                _inString = true;
            }
            else if (c is '{' or '[')
            {
                _depth++;
            }
            else if (c is '}' or ']')
            {
                _argumentsDone = --_depth == 0;
            }
        }
        if (_scanned > from)
        {
            output.Add(new FunctionCallArgumentsContent(_callId, _name, _pending[from.._scanned]));
        }
    }

    // {"name": "<a JSON string>", "arguments": {   - the Qwen2.5/Hermes layout, spaces as the model writes them.
    [GeneratedRegex("""\A\s*\{\s*"name"\s*:\s*(?<name>"(?:[^"\\]|\\.)*")\s*,\s*"arguments"\s*:\s*\{""")]
    private static partial Regex CallStart();

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
            return new FunctionCallContent(_callId ?? $"call_{Guid.NewGuid():N}", name.GetString()!, arguments);
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
