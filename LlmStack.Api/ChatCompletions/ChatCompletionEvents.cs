using LlmStack.Api.Backends;
using LlmStack.Api.Contracts;
using LlmStack.Api.Endpoints;
using LlmStack.Api.Errors;
using LlmStack.Api.Pipeline;
using Microsoft.Extensions.AI;

namespace LlmStack.Api.ChatCompletions;

/// <summary>
/// A streamed chat completion's events, the way OpenAI writes them: one <c>data: {chunk}</c> per update; the first
/// delta carries the role, the last choice chunk the finish reason, then the usage chunk (when asked) and
/// <c>data: [DONE]</c>. A failure after the first byte can only be told in-band: a <c>data: {"error":...}</c> event,
/// then <c>data: [DONE]</c>.
/// </summary>
/// <remarks>
/// With several choices (<c>n</c>) the chunks of the choices interleave, each naming its <c>index</c>; each choice has
/// its own role chunk, tool-call indices and finish-reason chunk (sent when that choice ends).
/// </remarks>
internal sealed class ChatCompletionEvents(CompletionIdentity completion, bool includeUsage, RequestOutcome outcome, int choices = 1) : IStreamEvents
{
    private readonly ChoiceState[] _choices = [.. Enumerable.Range(0, choices).Select(_ => new ChoiceState())];

    public ValueTask StartAsync(ServerSentEvents sse, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public async ValueTask UpdateAsync(ServerSentEvents sse, ChatResponseUpdate update, CancellationToken cancellationToken)
    {
        var index = LlmStackChatOptions.ChoiceOf(update);
        var choice = _choices[index];
        var text = update.Text;
        var reasoning = ChatResponseMapping.ReasoningOf(update.Contents);
        var calls = ToolCallDeltas(update.Contents, choice);
        // A call counts once it is whole: streamed arguments of a block that turns out not to be a call do not.
        choice.CalledTools |= update.Contents.Any(c => c is FunctionCallContent);
        var logprobs = update.Contents.OfType<TokenLogprobsContent>().Any() ? ChatResponseMapping.ToLogprobs(update.Contents) : null;
        if (choice.First || text.Length > 0 || reasoning.Length > 0 || calls.Count > 0 || logprobs is not null)
        {
            await WriteAsync(sse, Chunk(index, new ChunkDelta
            {
                Role = choice.First ? "assistant" : null,
                Content = text.Length > 0 || choice.First ? text : null,
                ReasoningContent = reasoning.Length > 0 ? reasoning : null,
                ToolCalls = calls.Count > 0 ? calls : null,
            }, logprobs: logprobs), cancellationToken);
            choice.First = false;
        }
        // One of several choices ended (a single choice ends with the reply, below).
        if (_choices.Length > 1 && update.FinishReason is { } finish && !choice.Finished)
        {
            choice.Finished = true;
            await WriteAsync(sse, Chunk(index, new ChunkDelta(), ReplyContent.FinishReasonOf(finish, choice.CalledTools)), cancellationToken);
        }
    }

    public async ValueTask CompletedAsync(ServerSentEvents sse, CancellationToken cancellationToken)
    {
        for (var index = 0; index < _choices.Length; index++)
        {
            var choice = _choices[index];
            if (choice.First)
            {
                await WriteAsync(sse, Chunk(index, new ChunkDelta { Role = "assistant", Content = "" }), cancellationToken);
            }
            if (!choice.Finished)
            {
                await WriteAsync(sse, Chunk(index, new ChunkDelta(), CompletionStreamEnd.FinishReasonOf(outcome)), cancellationToken);
            }
        }
        await sse.WriteUsageAndDoneAsync(outcome, includeUsage, usage => new ChatCompletionChunk
        {
            Id = completion.Id,
            Created = completion.Created,
            Model = completion.Model,
            Choices = [],
            Usage = usage,
        }, ApiJsonContext.Default.ChatCompletionChunk, cancellationToken);
    }

    public ValueTask FailedAsync(ServerSentEvents sse, ApiErrorException error, CancellationToken cancellationToken) =>
        sse.WriteErrorAndDoneAsync(error, cancellationToken);

    private ChatCompletionChunk Chunk(int index, ChunkDelta delta, string? finishReason = null, ChatLogprobs? logprobs = null) => new()
    {
        Id = completion.Id,
        Created = completion.Created,
        Model = completion.Model,
        Choices = [new ChunkChoice { Index = index, Delta = delta, Logprobs = logprobs, FinishReason = finishReason }],
    };

    // A call whose arguments streamed in fragments is announced with its first one (index, id, name) and then
    // continued by index; its whole content at the end adds nothing and is not sent again.
    private static List<ToolCallDelta> ToolCallDeltas(IEnumerable<AIContent> contents, ChoiceState choice)
    {
        var deltas = new List<ToolCallDelta>();
        foreach (var content in contents)
        {
            switch (content)
            {
                case FunctionCallArgumentsContent fragment when choice.Streamed.TryGetValue(fragment.CallId, out var index):
                    deltas.Add(new ToolCallDelta { Index = index, Function = new FunctionCall { Arguments = fragment.Fragment } });
                    break;
                case FunctionCallArgumentsContent fragment:
                    choice.Streamed[fragment.CallId] = choice.ToolCalls;
                    deltas.Add(new ToolCallDelta
                    {
                        Index = choice.ToolCalls++,
                        Id = fragment.CallId,
                        Type = "function",
                        Function = new FunctionCall { Name = fragment.Name, Arguments = fragment.Fragment },
                    });
                    break;
                case FunctionCallContent call when !choice.Streamed.ContainsKey(call.CallId):
                    deltas.Add(ToDelta(call, choice.ToolCalls++));
                    break;
            }
        }
        return deltas;
    }

    private sealed class ChoiceState
    {
        public bool First { get; set; } = true;

        public int ToolCalls { get; set; }

        /// <summary>The index of each call whose arguments are streaming, by call id.</summary>
        public Dictionary<string, int> Streamed { get; } = [];

        public bool CalledTools { get; set; }

        public bool Finished { get; set; }
    }

    private static ToolCallDelta ToDelta(FunctionCallContent call, int index)
    {
        var toolCall = ChatResponseMapping.ToToolCall(call);
        return new ToolCallDelta { Index = index, Id = toolCall.Id, Type = toolCall.Type, Function = toolCall.Function };
    }

    private static ValueTask WriteAsync(ServerSentEvents sse, ChatCompletionChunk chunk, CancellationToken cancellationToken) =>
        sse.WriteAsync(chunk, ApiJsonContext.Default.ChatCompletionChunk, cancellationToken);
}
