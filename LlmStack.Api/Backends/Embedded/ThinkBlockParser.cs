using Microsoft.Extensions.AI;

namespace LlmStack.Api.Backends.Embedded;

/// <summary>
/// Separates the reasoning of models whose chat template uses <c>&lt;think&gt;...&lt;/think&gt;</c> blocks (Qwen3,
/// DeepSeek-R1, QwQ) from their reply: the block's text becomes <see cref="TextReasoningContent"/>, the rest
/// <see cref="TextContent"/>. A block is recognised only at the start of the reply (a reply that later talks about
/// the tag keeps it as text); text that may begin or end a tag is held back until it is known.
/// </summary>
internal sealed class ThinkBlockParser
{
    private const string Open = "<think>";
    private const string Close = "</think>";

    private string _pending = "";
    private bool _inside;
    private bool _replyStarted;
    private bool _trimAfterClose;

    /// <param name="startsInside">The prompt already opened the block (templates that end the generation prompt with <c>&lt;think&gt;</c>).</param>
    public ThinkBlockParser(bool startsInside = false) => _inside = startsInside;

    /// <summary>Whether a model's chat template writes reasoning in <c>&lt;think&gt;</c> blocks.</summary>
    public static bool UsedBy(string? chatTemplate) => chatTemplate?.Contains(Close, StringComparison.Ordinal) == true;

    /// <summary>Whether a rendered prompt ends inside an opened block.</summary>
    public static bool OpenedBy(string prompt) => prompt.TrimEnd().EndsWith(Open, StringComparison.Ordinal);

    /// <summary>Adds decoded text; returns what can be sent now, in order.</summary>
    public IReadOnlyList<AIContent> Push(string text)
    {
        var output = new List<AIContent>();
        _pending += text;
        while (_pending.Length > 0)
        {
            if (_inside)
            {
                var end = _pending.IndexOf(Close, StringComparison.Ordinal);
                if (end < 0)
                {
                    var held = TagPrefix.HeldBack(_pending, Close);
                    AddReasoning(output, _pending[..^held]);
                    _pending = _pending[^held..];
                    return output;
                }
                AddReasoning(output, _pending[..end]);
                _pending = _pending[(end + Close.Length)..];
                _inside = false;
                _replyStarted = true;
                _trimAfterClose = true;
                continue;
            }
            if (_trimAfterClose)
            {
                // "</think>\n\n" then the reply: the blank lines belong to neither.
                _pending = _pending.TrimStart();
                if (_pending.Length == 0)
                {
                    return output;
                }
                _trimAfterClose = false;
            }
            if (!_replyStarted)
            {
                var trimmed = _pending.TrimStart();
                if (trimmed.StartsWith(Open, StringComparison.Ordinal))
                {
                    _pending = trimmed[Open.Length..];
                    _inside = true;
                    continue;
                }
                if (Open.StartsWith(trimmed, StringComparison.Ordinal))
                {
                    // Whitespace or a beginning of "<think>": not known yet.
                    return output;
                }
                _replyStarted = true;
            }
            output.Add(new TextContent(_pending));
            _pending = "";
        }
        return output;
    }

    /// <summary>What is left when generation ends: an unclosed block is reasoning (the reply was cut inside it).</summary>
    public IReadOnlyList<AIContent> Flush()
    {
        var output = new List<AIContent>();
        if (_inside)
        {
            AddReasoning(output, _pending);
        }
        else if (_pending.Length > 0 && !_trimAfterClose)
        {
            output.Add(new TextContent(_pending));
        }
        _pending = "";
        return output;
    }

    private static void AddReasoning(List<AIContent> output, string text)
    {
        if (text.Length > 0)
        {
            output.Add(new TextReasoningContent(text));
        }
    }
}
