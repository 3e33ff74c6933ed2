using System.Diagnostics;
using System.Text;
using LlmStack.Api.Access;
using LlmStack.Api.Backends;
using LlmStack.Api.Errors;
using Microsoft.Extensions.AI;

namespace LlmStack.Api.Pipeline;

/// <summary>
/// What became of one API request - the model that served it, its first token, usage, finish reason, timings and
/// error - filled in once, as the reply flows through <see cref="Track(ModelPipeline)"/>. The metrics, the request's
/// log line and the response writers all read this one object, so they cannot disagree.
/// </summary>
/// <remarks>
/// Every time is measured from <see cref="RequestTelemetry.Start"/>: once routing has found a model endpoint, before
/// the drain, authentication and the key's budget - so a request they refuse has an outcome, and is recorded, too.
/// </remarks>
internal sealed class RequestOutcome
{
    private readonly long _started = Stopwatch.GetTimestamp();
    private readonly StringBuilder? _completion;
    private UsageCharge? _usageCharge;
    private long _firstToken;
    private long _replyEnded;
    private ChatFinishReason? _finishReason;
    private bool _madeToolCalls;
    private long _outputReserved;

    internal RequestOutcome(string operation, bool logContent)
    {
        Operation = operation;
        _completion = logContent ? new StringBuilder() : null;
    }

    /// <summary>
    /// The key's token budget this request is charged to (none for a key without one): known only once the key's
    /// budget has admitted the request, after this outcome started.
    /// </summary>
    public void ChargeTo(UsageCharge? usageCharge) => _usageCharge = usageCharge;

    /// <summary><c>gen_ai.operation.name</c>: <c>chat</c>, <c>embeddings</c>, ...</summary>
    public string Operation { get; }

    /// <summary>The model that serves the request, once the request has named one that exists.</summary>
    public ServedModel? Model { get; private set; }

    public bool Stream { get; set; }

    /// <summary>The prompt, kept only when content logging is on.</summary>
    public string? Prompt { get; private set; }

    /// <summary>The reply's text, kept only when content logging is on.</summary>
    public string? Completion => _completion?.ToString();

    /// <summary>Until the first non-empty content of a streamed reply; null for a reply that was not streamed or had none.</summary>
    public TimeSpan? TimeToFirstToken => _firstToken == 0 ? null : Stopwatch.GetElapsedTime(_started, _firstToken);

    /// <summary>From the first token to the end of the reply, per output token after the first (decode speed).</summary>
    public TimeSpan? TimePerOutputToken =>
        _firstToken != 0 && _replyEnded != 0 && (Usage?.OutputTokenCount ?? ContentUpdates) is > 1 and var tokens
            ? Stopwatch.GetElapsedTime(_firstToken, _replyEnded) / (tokens - 1)
            : null;

    /// <summary>The token usage the backend reported, added up over the reply.</summary>
    public UsageDetails? Usage { get; private set; }

    /// <summary>OpenAI's finish_reason once a chat reply has ended (<c>stop</c>, <c>length</c>, <c>tool_calls</c>, ...); else null.</summary>
    public string? FinishReason { get; private set; }

    /// <summary>Updates that carried part of the reply (<see cref="ReplyContent.HasContent"/>).</summary>
    public int ContentUpdates { get; private set; }

    /// <summary>True once the model's reply has ended normally (not by an error or a hang-up).</summary>
    public bool ReplyEnded => _replyEnded != 0;

    /// <summary>The prompt's tokens as estimated before the model counted them (<see cref="TokenEstimate"/>).</summary>
    public long PromptTokenEstimate { get; private set; }

    /// <summary>True once the request was admitted to its model (its prompt may be read from then on).</summary>
    public bool Admitted { get; private set; }

    /// <summary>The error the client was told, if any.</summary>
    public ApiErrorException? Error { get; private set; }

    /// <summary>Time since the endpoint took the request.</summary>
    public TimeSpan Elapsed => Stopwatch.GetElapsedTime(_started);

    /// <summary>
    /// The model's chat client for this request: the model's pipeline, with this outcome recording what flows
    /// through it. Also names the model that serves the request.
    /// </summary>
    public IChatClient Track(ModelPipeline pipeline)
    {
        Serves(pipeline.Model);
        return new OutcomeChatClient(pipeline.ChatClient, this);
    }

    /// <summary>The model's embedding generator for this request, recorded like <see cref="Track(ModelPipeline)"/>.</summary>
    public IEmbeddingGenerator<string, Embedding<float>>? TrackEmbeddings(ModelPipeline pipeline)
    {
        Serves(pipeline.Model);
        return pipeline.EmbeddingGenerator is { } generator ? new OutcomeEmbeddingGenerator(generator, this) : null;
    }

    /// <summary>Names the model that serves the request (for a call that goes around the chat and embedding pipelines).</summary>
    public void Serves(ServedModel model) => Model = model;

    public void Received(IEnumerable<ChatMessage> messages)
    {
        PromptTokenEstimate = TokenEstimate.Of(messages);
        if (_completion is not null)
        {
            Prompt = string.Join('\n', messages.Select(m => $"{m.Role}: {m.Text}"));
        }
    }

    /// <summary>The inputs of an embeddings request.</summary>
    public void Received(IReadOnlyCollection<string> inputs) => PromptTokenEstimate = TokenEstimate.Of(inputs);

    /// <summary>
    /// Reserves the request's prompt and <paramref name="outputTokens"/> from its key's token budget, when the key has one:
    /// 429 when the budget does not hold them.
    /// </summary>
    public ValueTask ReserveAsync(long outputTokens, CancellationToken cancellationToken)
    {
        _outputReserved = outputTokens;
        return _usageCharge?.ReserveAsync(PromptTokenEstimate, outputTokens, cancellationToken) ?? ValueTask.CompletedTask;
    }

    /// <summary>The request has been admitted to its model.</summary>
    public void Admit() => Admitted = true;

    /// <summary>The error the client is told; the first one is kept.</summary>
    public void Failed(ApiErrorException error) => Error ??= error;

    internal void Observe(ChatResponseUpdate update)
    {
        if (update.HasContent())
        {
            if (_firstToken == 0)
            {
                _firstToken = Stopwatch.GetTimestamp();
            }
            ContentUpdates++;
            _madeToolCalls |= update.Contents.Any(c => c is FunctionCallContent);
            _completion?.Append(update.Text);
        }
        foreach (var usage in update.Contents.OfType<UsageContent>())
        {
            (Usage ??= new UsageDetails()).Add(usage.Details);
        }
        _finishReason = update.FinishReason ?? _finishReason;
    }

    internal ValueTask ObserveAsync(ChatResponse response)
    {
        Usage = response.Usage;
        _finishReason = response.FinishReason;
        _madeToolCalls = response.Messages.SelectMany(m => m.Contents).Any(c => c is FunctionCallContent);
        _completion?.Append(response.Text);
        return EndChatReplyAsync();
    }

    /// <summary>A streamed chat reply has ended normally.</summary>
    internal ValueTask EndChatReplyAsync()
    {
        FinishReason = ReplyContent.FinishReasonOf(_finishReason, _madeToolCalls);
        return EndReplyAsync();
    }

    internal ValueTask ObserveAsync(GeneratedEmbeddings<Embedding<float>> embeddings)
    {
        Usage = embeddings.Usage;
        return EndReplyAsync();
    }

    /// <summary>A call that is over once it returns (a rerank) used <paramref name="usage"/>.</summary>
    public ValueTask UsedAsync(UsageDetails usage)
    {
        Usage = usage;
        return EndReplyAsync();
    }

    private ValueTask EndReplyAsync()
    {
        _replyEnded = Stopwatch.GetTimestamp();
        // The calling key's token budget pays for the real usage, before the reply's last bytes go out.
        return SettleAsync(interrupted: false);
    }

    /// <summary>
    /// Settles the request's tokens once it has ended, however it ended (<paramref name="interrupted"/>: its client went
    /// away or the server cut it off). A reply the backend finished reports its usage. One that did not is counted: its
    /// prompt (<see cref="PromptTokenEstimate"/>) and, streamed, one output token per content update received - or,
    /// not streamed, its whole output reservation, as the backend does not say how far it got. A request that never
    /// reached its model, or failed before any token for a reason other than an interruption, used nothing. The
    /// counted usage becomes <see cref="Usage"/>, so the log line and metrics carry it; the key's token budget is charged it.
    /// </summary>
    public ValueTask SettleAsync(bool interrupted)
    {
        if (!ReplyEnded && Usage is null && Admitted && (interrupted || ContentUpdates > 0))
        {
            var output = Stream ? ContentUpdates : _outputReserved;
            Usage = new UsageDetails { InputTokenCount = PromptTokenEstimate, OutputTokenCount = output, TotalTokenCount = PromptTokenEstimate + output };
        }
        var used = Usage is { } usage ? usage.TotalTokenCount ?? (usage.InputTokenCount ?? 0) + (usage.OutputTokenCount ?? 0) : 0;
        return _usageCharge?.SettleAsync(used) ?? ValueTask.CompletedTask;
    }
}
