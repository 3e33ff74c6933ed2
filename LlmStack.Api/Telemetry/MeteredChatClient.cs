using System.Diagnostics;
using System.Runtime.CompilerServices;
using LlmStack.Api.Errors;
using LlmStack.Api.Models;
using Microsoft.Extensions.AI;

namespace LlmStack.Api.Telemetry;

/// <summary>
/// Records LlmStack's server metrics for every call to a model, whatever its backend: requests in flight,
/// time to the first non-empty content (an empty first update - a role, a keep-alive - is not a token),
/// time per output token after it, duration, and token usage; failures carry <c>error.type</c>.
/// </summary>
public sealed class MeteredChatClient : DelegatingChatClient
{
    private const string Operation = "chat";

    private readonly LlmStackMetrics _metrics;
    private readonly TagList _tags;

    public MeteredChatClient(IChatClient innerClient, ServedModel model, LlmStackMetrics metrics) : base(innerClient)
    {
        _metrics = metrics;
        _tags = new TagList
        {
            { LlmStackMetrics.RequestModel, model.Id },
            { LlmStackMetrics.OperationName, Operation },
            { LlmStackMetrics.ProviderName, model.Backend },
        };
        // Present at 0 from the start: a dashboard or an alert must not see "no data" before the first request.
        metrics.RequestsActive.Add(0, _tags);
    }

    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var started = Stopwatch.GetTimestamp();
        _metrics.RequestsActive.Add(1, _tags);
        string? errorType = null;
        UsageDetails? usage = null;
        try
        {
            var response = await base.GetResponseAsync(messages, options, cancellationToken);
            usage = response.Usage;
            return response;
        }
        catch (Exception ex)
        {
            errorType = ErrorType(ex, cancellationToken);
            throw;
        }
        finally
        {
            _metrics.RequestsActive.Add(-1, _tags);
            Record(started, firstToken: null, contentUpdates: 0, usage, errorType);
        }
    }

    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var started = Stopwatch.GetTimestamp();
        _metrics.RequestsActive.Add(1, _tags);
        long? firstToken = null;
        var contentUpdates = 0;
        UsageDetails? usage = null;
        string? errorType = null;
        IAsyncEnumerator<ChatResponseUpdate>? updates = null;
        try
        {
            updates = base.GetStreamingResponseAsync(messages, options, cancellationToken).GetAsyncEnumerator(cancellationToken);
            while (true)
            {
                try
                {
                    if (!await updates.MoveNextAsync())
                    {
                        break;
                    }
                }
                catch (Exception ex)
                {
                    errorType = ErrorType(ex, cancellationToken);
                    throw;
                }

                var update = updates.Current;
                if (update.HasContent())
                {
                    firstToken ??= Stopwatch.GetTimestamp();
                    contentUpdates++;
                }
                foreach (var content in update.Contents.OfType<UsageContent>())
                {
                    (usage ??= new UsageDetails()).Add(content.Details);
                }
                yield return update;
            }
        }
        finally
        {
            if (updates is not null)
            {
                await updates.DisposeAsync();
            }
            _metrics.RequestsActive.Add(-1, _tags);
            // A consumer that stops early (the client disconnected) ends the call without an exception here.
            errorType ??= cancellationToken.IsCancellationRequested ? "cancelled" : null;
            Record(started, firstToken, contentUpdates, usage, errorType);
        }
    }

    private void Record(long started, long? firstToken, int contentUpdates, UsageDetails? usage, string? errorType)
    {
        var ended = Stopwatch.GetTimestamp();
        var tags = _tags;
        if (errorType is not null)
        {
            tags.Add(LlmStackMetrics.ErrorType, errorType);
        }
        _metrics.RequestDuration.Record(Stopwatch.GetElapsedTime(started, ended).TotalSeconds, tags);
        if (firstToken is { } first)
        {
            _metrics.TimeToFirstToken.Record(Stopwatch.GetElapsedTime(started, first).TotalSeconds, tags);
            // Backends that report no usage still stream one update per token or so.
            var outputTokens = usage?.OutputTokenCount ?? contentUpdates;
            if (outputTokens > 1)
            {
                _metrics.TimePerOutputToken.Record(Stopwatch.GetElapsedTime(first, ended).TotalSeconds / (outputTokens - 1), tags);
            }
        }
        if (usage?.InputTokenCount is { } input)
        {
            var inputTags = tags;
            inputTags.Add(LlmStackMetrics.TokenType, "input");
            _metrics.TokenUsage.Record((int)input, inputTags);
        }
        if (usage?.OutputTokenCount is { } output)
        {
            var outputTags = tags;
            outputTags.Add(LlmStackMetrics.TokenType, "output");
            _metrics.TokenUsage.Record((int)output, outputTags);
        }
    }

    private static string ErrorType(Exception exception, CancellationToken cancellationToken) => exception switch
    {
        OperationCanceledException when cancellationToken.IsCancellationRequested => "cancelled",
        ApiErrorException { Code: { } code } => code,
        _ => exception.GetType().FullName ?? exception.GetType().Name,
    };
}

internal static class ChatResponseUpdateExtensions
{
    /// <summary>True when the update carries part of the reply: text or a tool call.</summary>
    public static bool HasContent(this ChatResponseUpdate update) =>
        update.Contents.Any(c => c is TextContent { Text.Length: > 0 } or FunctionCallContent);
}
