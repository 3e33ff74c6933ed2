using System.Text;
using LlmStack.Api.Backends;
using LlmStack.Api.Contracts;
using LlmStack.Api.Endpoints;
using LlmStack.Api.Pipeline;
using Microsoft.Extensions.AI;

namespace LlmStack.Api.Responses;

/// <summary>
/// Builds a response's output items from what the model produces, in order: reasoning, message text and
/// function calls each become an item. Every step also returns the stream events that tell it (item added,
/// text delta, item done, ...), so the streamed and the non-streamed response are built by the same code;
/// the non-streamed one just drops the events.
/// </summary>
/// <remarks>Usage and finish reason are the request's <see cref="RequestOutcome"/>: the same the metrics and the log record.</remarks>
internal sealed class ResponseOutput(RequestOutcome outcome)
{
    private static readonly List<System.Text.Json.JsonElement> NoLogprobs = [];

    private readonly List<ResponseItem> _items = [];
    private OpenItem? _open;

    // The function call still open (added, not done yet) and its arguments so far; the ids of the calls whose
    // arguments streamed (their whole call, when it comes, adds nothing).
    private (ResponseItem Item, int OutputIndex, StringBuilder Arguments)? _call;
    private readonly HashSet<string> _streamedCalls = [];

    private string? FinishReason => outcome.FinishReason;

    public IReadOnlyList<ResponseItem> Items => _items;

    /// <summary>Whether any output was produced (a function call or non-empty text).</summary>
    public bool HasOutput => _items.Count > 0 || _open is not null || _call is not null;

    /// <summary>Takes one update of the model; returns the events it makes.</summary>
    public List<ResponseStreamEvent> Add(ChatResponseUpdate update)
    {
        var events = new List<ResponseStreamEvent>();
        foreach (var content in update.Contents)
        {
            Add(content, events);
        }
        return events;
    }

    /// <summary>Takes a whole reply (non-streamed).</summary>
    public void Add(ChatResponse response)
    {
        var events = new List<ResponseStreamEvent>();
        // A message's reasoning came before its reply, wherever a backend put it in the list.
        foreach (var content in response.Messages.SelectMany(m => m.Contents.OrderBy(c => c is TextReasoningContent ? 0 : 1)))
        {
            Add(content, events);
        }
    }

    /// <summary>Closes the item still open (its text is complete); returns the events that say so.</summary>
    public List<ResponseStreamEvent> Complete()
    {
        var events = new List<ResponseStreamEvent>();
        Close(events, FinishReason == ChatFinishReason.Length.Value ? "incomplete" : "completed");
        EndFunctionCall(events);
        return events;
    }

    /// <summary><paramref name="template"/> with this output, its usage and its final status.</summary>
    public ResponseObject ToResponse(ResponseObject template)
    {
        var incomplete = FinishReason == ChatFinishReason.Length.Value ? new IncompleteDetails("max_output_tokens")
            : FinishReason == ChatFinishReason.ContentFilter.Value ? new IncompleteDetails("content_filter")
            : null;
        return template with
        {
            Status = incomplete is null ? "completed" : "incomplete",
            IncompleteDetails = incomplete,
            Output = [.. _items],
            Usage = ToUsage(outcome.Usage),
        };
    }

    private void Add(AIContent content, List<ResponseStreamEvent> events)
    {
        switch (content)
        {
            case TextReasoningContent { Text.Length: > 0 } reasoning:
                Append(OpenKind.Reasoning, reasoning.Text, events);
                break;
            case TextContent { Text.Length: > 0 } text:
                Append(OpenKind.Message, text.Text, events);
                break;
            case FunctionCallArgumentsContent fragment:
                AddArguments(fragment, events);
                break;
            case FunctionCallContent call when _streamedCalls.Contains(call.CallId):
                if (_call?.Item.CallId == call.CallId)
                {
                    EndFunctionCall(events);
                }
                break;
            case FunctionCallContent call:
                AddFunctionCall(call, events);
                break;
        }
    }

    // A call whose arguments stream: added with its first fragment, each fragment a delta, done with the whole call
    // (or, from an upstream that streams several, when the next item starts).
    private void AddArguments(FunctionCallArgumentsContent fragment, List<ResponseStreamEvent> events)
    {
        if (_call?.Item.CallId != fragment.CallId)
        {
            StartFunctionCall(fragment.CallId, fragment.Name, events);
            _streamedCalls.Add(fragment.CallId);
        }
        AppendArguments(fragment.Fragment, events);
    }

    private void StartFunctionCall(string callId, string name, List<ResponseStreamEvent> events)
    {
        Close(events, "completed");
        EndFunctionCall(events);
        var item = new ResponseItem
        {
            Type = ResponseItem.FunctionCallType,
            Id = NewId("fc"),
            CallId = callId,
            Name = name,
            Arguments = "",
            Status = "in_progress",
        };
        _call = (item, _items.Count, new StringBuilder());
        events.Add(new ResponseStreamEvent { Type = "response.output_item.added", OutputIndex = _items.Count, Item = item });
    }

    private void AppendArguments(string arguments, List<ResponseStreamEvent> events)
    {
        var (item, index, streamed) = _call!.Value;
        streamed.Append(arguments);
        events.Add(new ResponseStreamEvent { Type = "response.function_call_arguments.delta", ItemId = item.Id, OutputIndex = index, Delta = arguments });
    }

    // A call whose arguments are not whole JSON (cut off, or a block that turned out not to be a call) is incomplete.
    private void EndFunctionCall(List<ResponseStreamEvent> events)
    {
        if (_call is not { } call)
        {
            return;
        }
        _call = null;
        var (item, index, streamed) = call;
        var arguments = streamed.ToString();
        var done = item with { Arguments = arguments, Status = FunctionArguments.IsWhole(arguments) ? "completed" : "incomplete" };
        _items.Add(done);
        events.Add(new ResponseStreamEvent { Type = "response.function_call_arguments.done", ItemId = item.Id, OutputIndex = index, Arguments = arguments });
        events.Add(new ResponseStreamEvent { Type = "response.output_item.done", OutputIndex = index, Item = done });
    }

    private void Append(OpenKind kind, string text, List<ResponseStreamEvent> events)
    {
        if (_open?.Kind != kind)
        {
            Close(events, "completed");
            Open(kind, events);
        }
        var open = _open!;
        open.Text.Append(text);
        events.Add(new ResponseStreamEvent
        {
            Type = kind == OpenKind.Message ? "response.output_text.delta" : "response.reasoning_text.delta",
            ItemId = open.Id,
            OutputIndex = open.OutputIndex,
            ContentIndex = 0,
            Delta = text,
            Logprobs = kind == OpenKind.Message ? NoLogprobs : null,
        });
    }

    private void Open(OpenKind kind, List<ResponseStreamEvent> events)
    {
        EndFunctionCall(events);
        var open = new OpenItem(kind, NewId(kind == OpenKind.Message ? "msg" : "rs"), _items.Count);
        _open = open;
        events.Add(new ResponseStreamEvent { Type = "response.output_item.added", OutputIndex = open.OutputIndex, Item = open.ToItem("in_progress", done: false) });
        if (kind == OpenKind.Message)
        {
            events.Add(new ResponseStreamEvent
            {
                Type = "response.content_part.added",
                ItemId = open.Id,
                OutputIndex = open.OutputIndex,
                ContentIndex = 0,
                Part = OutputText(""),
            });
        }
    }

    private void Close(List<ResponseStreamEvent> events, string status)
    {
        if (_open is not { } open)
        {
            return;
        }
        _open = null;
        var text = open.Text.ToString();
        var item = open.ToItem(status, done: true);
        _items.Add(item);
        if (open.Kind == OpenKind.Message)
        {
            events.Add(new ResponseStreamEvent
            {
                Type = "response.output_text.done",
                ItemId = open.Id,
                OutputIndex = open.OutputIndex,
                ContentIndex = 0,
                Text = text,
                Logprobs = NoLogprobs,
            });
            events.Add(new ResponseStreamEvent
            {
                Type = "response.content_part.done",
                ItemId = open.Id,
                OutputIndex = open.OutputIndex,
                ContentIndex = 0,
                Part = OutputText(text),
            });
        }
        else
        {
            events.Add(new ResponseStreamEvent
            {
                Type = "response.reasoning_text.done",
                ItemId = open.Id,
                OutputIndex = open.OutputIndex,
                ContentIndex = 0,
                Text = text,
            });
        }
        events.Add(new ResponseStreamEvent { Type = "response.output_item.done", OutputIndex = open.OutputIndex, Item = item });
    }

    // A call delivered whole (its arguments did not stream): they go out as one delta.
    private void AddFunctionCall(FunctionCallContent call, List<ResponseStreamEvent> events)
    {
        StartFunctionCall(call.CallId, call.Name, events);
        AppendArguments(FunctionArguments.Serialize(call.Arguments), events);
        EndFunctionCall(events);
    }

    private static ResponseUsage? ToUsage(UsageDetails? usage)
    {
        if (usage is null)
        {
            return null;
        }
        var input = (int)(usage.InputTokenCount ?? 0);
        var output = (int)(usage.OutputTokenCount ?? 0);
        return new ResponseUsage
        {
            InputTokens = input,
            InputTokensDetails = new InputTokensDetails { CachedTokens = (int)(usage.CachedInputTokenCount ?? 0) },
            OutputTokens = output,
            OutputTokensDetails = new OutputTokensDetails { ReasoningTokens = (int)(usage.ReasoningTokenCount ?? 0) },
            TotalTokens = (int)(usage.TotalTokenCount ?? input + output),
        };
    }

    internal static ResponseContent OutputText(string text) => new() { Type = ResponseContent.OutputTextType, Text = text, Annotations = [] };

    internal static string NewId(string prefix) => $"{prefix}_{Guid.NewGuid():N}";

    private enum OpenKind
    {
        Message,
        Reasoning,
    }

    /// <summary>The message or reasoning item whose text is still arriving.</summary>
    private sealed record OpenItem(OpenKind Kind, string Id, int OutputIndex)
    {
        public StringBuilder Text { get; } = new();

        public ResponseItem ToItem(string status, bool done) => Kind == OpenKind.Message
            ? new ResponseItem
            {
                Type = ResponseItem.MessageType,
                Id = Id,
                Status = status,
                Role = "assistant",
                Content = done ? [OutputText(Text.ToString())] : [],
            }
            : new ResponseItem
            {
                Type = ResponseItem.ReasoningType,
                Id = Id,
                Status = status,
                Summary = [],
                Content = done ? [new ResponseContent { Type = ResponseContent.ReasoningTextType, Text = Text.ToString() }] : [],
            };
    }
}
