using System.Diagnostics;
using System.Text;
using LlmStack.Api.Access;
using LlmStack.Api.Backends;
using LlmStack.Api.Errors;
using LlmStack.Api.Telemetry;
using Microsoft.Extensions.AI;

namespace LlmStack.Api.Pipeline;

/// <summary>
/// What became of one API request - the model that served it, its first token, usage, finish reason, timings and
/// error - filled in once, as the reply flows through <see cref="Track(ModelPipeline)"/>. The metrics, the request's
/// log line and the response writers all read this one object, so they cannot disagree.
/// </summary>
/// <remarks>
/// Every time is measured from <see cref="RequestTelemetry.Start"/>: when the endpoint takes the request, after
/// routing and authentication, before its body is read.
/// </remarks>
internal sealed class RequestOutcome
{
    private readonly long _started = Stopwatch.GetTimestamp();
    private readonly StringBuilder? _completion;
    private readonly UsageCharge? _usageCharge;
    private readonly LlmStackMetrics _metrics;
    private long _firstToken;
    private long _replyEnded;
    private ChatFinishReason? _finishReason;
    private bool _madeToolCalls;

    internal RequestOutcome(string operation, bool logContent, UsageCharge? usageCharge, LlmStackMetrics metrics)
    {
        Operation = operation;
        _completion = logContent ? new StringBuilder() : null;
        _usageCharge = usageCharge;
        _metrics = metrics;
    }

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
        return new OutcomeChatClient(pipeline.ChatClient, this, _metrics);
    }

    /// <summary>The model's embedding generator for this request, recorded like <see cref="Track(ModelPipeline)"/>.</summary>
    public IEmbeddingGenerator<string, Embedding<float>>? TrackEmbeddings(ModelPipeline pipeline)
    {
        Serves(pipeline.Model);
        return pipeline.EmbeddingGenerator is { } generator ? new OutcomeEmbeddingGenerator(generator, this, _metrics) : null;
    }

    /// <summary>Names the model that serves the request (for a call that goes around the chat and embedding pipelines).</summary>
    public void Serves(ServedModel model) => Model = model;

    public void Received(IEnumerable<ChatMessage> messages)
    {
        if (_completion is not null)
        {
            Prompt = string.Join('\n', messages.Select(m => $"{m.Role}: {m.Text}"));
        }
    }

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

    internal void Observe(ChatResponse response)
    {
        Usage = response.Usage;
        _finishReason = response.FinishReason;
        _madeToolCalls = response.Messages.SelectMany(m => m.Contents).Any(c => c is FunctionCallContent);
        _completion?.Append(response.Text);
        EndChatReply();
    }

    /// <summary>A streamed chat reply has ended normally.</summary>
    internal void EndChatReply()
    {
        FinishReason = ReplyContent.FinishReasonOf(_finishReason, _madeToolCalls);
        EndReply();
    }

    internal void Observe(GeneratedEmbeddings<Embedding<float>> embeddings)
    {
        Usage = embeddings.Usage;
        EndReply();
    }

    /// <summary>A call that is over once it returns (a rerank) used <paramref name="usage"/>.</summary>
    public void Used(UsageDetails usage)
    {
        Usage = usage;
        EndReply();
    }

    private void EndReply()
    {
        _replyEnded = Stopwatch.GetTimestamp();
        // The calling key's token budget pays for the real usage, before the reply's last bytes go out.
        _usageCharge?.Charge(Usage);
    }
}
