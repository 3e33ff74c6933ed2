using System.Text.Json.Serialization.Metadata;
using LlmStack.Api.Backends;
using LlmStack.Api.Configuration;
using LlmStack.Api.Errors;
using LlmStack.Api.Pipeline;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace LlmStack.Api.Endpoints;

/// <summary>
/// Starts the call of every OpenAI endpoint to a model, the same way each time: the request's outcome is started
/// (so that a refusal is recorded too), the body read (400s that name the field), the model found (404).
/// </summary>
internal sealed class ModelCalls(ModelCatalog catalog, RequestTelemetry telemetry, IOptions<LlmStackOptions> options)
{
    /// <param name="operation"><c>gen_ai.operation.name</c>: <c>chat</c>, <c>responses</c>, <c>text_completion</c>, <c>embeddings</c>.</param>
    /// <param name="modelOf">The body's <c>model</c>.</param>
    public async Task<(ModelCall Call, TBody Body)> StartAsync<TBody>(
        HttpContext context, string operation, JsonTypeInfo<TBody> bodyType, Func<TBody, string?> modelOf) where TBody : class
    {
        var outcome = telemetry.Start(context, operation);
        var body = await JsonBody.ReadAsync(context.Request, bodyType);
        var pipeline = catalog.Find(modelOf(body));
        return (new ModelCall(context, pipeline, outcome, options.Value.MaxOutputTokens), body);
    }
}

/// <summary>
/// One request's call to its model: what it sends (recorded in its <see cref="RequestOutcome"/>), streamed or not,
/// cancelled when the client goes away or the server cuts the request off (<see cref="HttpContext.RequestAborted"/>).
/// </summary>
internal sealed class ModelCall(HttpContext context, ModelPipeline pipeline, RequestOutcome outcome, int maxOutputTokens)
{
    public ServedModel Model => pipeline.Model;

    public RequestOutcome Outcome => outcome;

    /// <summary>The ceiling on a request's output-token limit (<c>LlmStack:MaxOutputTokens</c>).</summary>
    public int MaxOutputTokens => maxOutputTokens;

    /// <summary>The client hanging up, or the server's cutoff: either cancels the model's work.</summary>
    public CancellationToken Aborted => context.RequestAborted;

    /// <summary>
    /// Sends the conversation. Not streamed: the whole reply. Streamed: the stream, its first update already read -
    /// nothing is sent to the client before it, so that until then a failure is still an ordinary error response.
    /// </summary>
    public async Task<ModelReply> SendAsync(IList<ChatMessage> messages, ChatOptions options, bool stream)
    {
        outcome.Stream = stream;
        outcome.Received(messages);
        var client = outcome.Track(pipeline);
        if (!stream)
        {
            return new ModelReply(await client.GetResponseAsync(messages, options, Aborted), null);
        }
        var updates = client.GetStreamingResponseAsync(messages, options, Aborted).GetAsyncEnumerator(Aborted);
        try
        {
            var hasFirst = await updates.MoveNextAsync();
            return new ModelReply(null, new ModelStream(updates, hasFirst, outcome));
        }
        catch
        {
            await updates.DisposeAsync();
            throw;
        }
    }

    /// <summary>The model's embedding generator for this request; 400 when its backend cannot embed.</summary>
    public IEmbeddingGenerator<string, Embedding<float>> Embeddings() =>
        outcome.TrackEmbeddings(pipeline) ?? throw ApiErrorException.InvalidRequest(
            $"The model '{Model.Id}' cannot create embeddings: its backend ({Model.Backend}) has no embedding support.", "model", "unsupported_model");

    /// <summary>Scores <paramref name="documents"/> against <paramref name="query"/>; 400 when the model cannot rerank, saying why.</summary>
    public async Task<RerankScores> RerankAsync(string query, IReadOnlyList<string> documents)
    {
        outcome.Serves(Model);
        var reranker = pipeline.Reranker ?? throw Model.Rerank.Refuse(Model.Id);
        var scores = await reranker.RerankAsync(query, documents, Aborted);
        if (scores.PromptTokens is { } tokens)
        {
            outcome.Used(new UsageDetails { InputTokenCount = tokens, TotalTokenCount = tokens });
        }
        return scores;
    }

    /// <summary>The model's tokenizer (<c>/tokenize</c>, <c>/detokenize</c>); 400 when its backend has none.</summary>
    public IModelTokenizer Tokenizer()
    {
        outcome.Serves(Model);
        return Model.Tokenizer ?? throw ApiErrorException.InvalidRequest(
            $"The model '{Model.Id}' cannot tokenize: its backend ({Model.Backend}) has no tokenizer endpoint.", "model", "unsupported_model");
    }
}

/// <summary>A model's answer: the whole <see cref="Response"/>, or the <see cref="Stream"/> when the request streams.</summary>
internal sealed record ModelReply(ChatResponse? Response, ModelStream? Stream);

/// <summary>A streamed reply whose first update has been read (<see cref="HasFirst"/>: there was one).</summary>
internal sealed class ModelStream(IAsyncEnumerator<ChatResponseUpdate> updates, bool hasFirst, RequestOutcome outcome) : IAsyncDisposable
{
    private bool _disposed;

    public bool HasFirst => hasFirst;

    public ChatResponseUpdate Current => updates.Current;

    /// <summary>The request's outcome: first token, usage and finish reason of the reply so far.</summary>
    public RequestOutcome Outcome => outcome;

    public ValueTask<bool> MoveNextAsync() => updates.MoveNextAsync();

    /// <summary>Releases the model's call (its slot, its connection); once.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_disposed)
        {
            _disposed = true;
            await updates.DisposeAsync();
        }
    }
}
