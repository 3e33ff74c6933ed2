using Microsoft.Extensions.AI;

namespace LlmStack.Web.Chat;

/// <summary>
/// Times one streamed reply as the person experiences it: time to first token from the moment the request was
/// sent (queueing and prompt processing included), decode speed between the first and the last token.
/// </summary>
public sealed class ReplyMeter(TimeProvider time)
{
    private readonly long _started = time.GetTimestamp();
    private long? _firstToken;
    private long _lastToken;
    private int _textUpdates;
    private UsageDetails? _usage;
    private string? _model;
    private ChatFinishReason? _finishReason;

    /// <summary>Notes one streamed update.</summary>
    public void Observe(ChatResponseUpdate update)
    {
        _model = update.ModelId ?? _model;
        _finishReason = update.FinishReason ?? _finishReason;
        foreach (var content in update.Contents)
        {
            if (content is UsageContent usage)
            {
                _usage = usage.Details;
            }
        }
        if (!string.IsNullOrEmpty(update.Text))
        {
            _lastToken = time.GetTimestamp();
            _firstToken ??= _lastToken;
            _textUpdates++;
        }
    }

    public ReplyStats Finish()
    {
        var outputTokens = _usage?.OutputTokenCount;
        double? tokensPerSecond = null;
        if (_firstToken is { } first && _lastToken > first)
        {
            // A stopped reply has no usage report; each streamed chunk is one token on LlmStack's backends.
            var tokensAfterFirst = (outputTokens ?? _textUpdates) - 1;
            tokensPerSecond = tokensAfterFirst / time.GetElapsedTime(first, _lastToken).TotalSeconds;
        }
        return new ReplyStats(
            _model,
            _firstToken is { } firstToken ? time.GetElapsedTime(_started, firstToken).TotalSeconds : null,
            tokensPerSecond,
            _usage?.InputTokenCount,
            outputTokens,
            time.GetElapsedTime(_started).TotalSeconds,
            _finishReason?.Value);
    }
}
