using System.Text.Json.Serialization.Metadata;
using LlmStack.Api.Access;
using LlmStack.Api.Backends;
using LlmStack.Api.Configuration;
using LlmStack.Api.Errors;
using LlmStack.Api.Pipeline;
using LlmStack.Api.Telemetry;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace LlmStack.Api.Endpoints;

/// <summary>
/// Starts the call of every OpenAI endpoint to a model, the same way each time: the request's outcome (started before
/// authentication, see <see cref="ModelCallExtensions.UseModelCallOutcomes"/>) is charged to the key's budget, the body
/// read (400s that name the field), the model found (404).
/// </summary>
internal sealed class ModelCalls(
    ModelCatalog catalog, LlmStackMetrics metrics, IOptions<LlmStackOptions> options, IOptions<AuthOptions> auth)
{
    /// <param name="modelOf">The body's <c>model</c>.</param>
    public async Task<(ModelCall Call, TBody Body)> StartAsync<TBody>(
        HttpContext context, JsonTypeInfo<TBody> bodyType, Func<TBody, string?> modelOf) where TBody : class
    {
        var outcome = context.Features.Get<RequestOutcome>() ?? throw new InvalidOperationException(
            $"{context.GetEndpoint()?.DisplayName} calls a model but is not declared with {nameof(ModelCallMetadata.CallsModel)}(operation).");
        outcome.ChargeTo(context.Features.Get<UsageCharge>());
        var body = await JsonBody.ReadAsync(context.Request, bodyType);
        var pipeline = catalog.Find(modelOf(body));
        return (new ModelCall(context, pipeline, outcome, metrics, options.Value.MaxOutputTokens, auth.Value.ReservedOutputTokens), body);
    }
}

/// <summary>
/// One request's call to its model: what it sends (recorded in its <see cref="RequestOutcome"/>), streamed or not,
/// cancelled when the client goes away or the server cuts the request off (<see cref="HttpContext.RequestAborted"/>).
/// Every chat call first has its backend do what it does before admission (<see cref="IChatPreparation"/>: the embedded
/// engine's grammar, a 400 when the schema has none), then reserves its tokens from its key's budget (429), then waits
/// for the model's admission (503), and holds both - counted in <c>llmstack.requests.active</c> - until the reply has ended. A chat call the model cannot
/// serve (a 502, 503 or 504 before anything reached the client) goes once to the model's <c>Fallback</c>, admitted
/// there in turn, which then names the response.
/// </summary>
internal sealed class ModelCall(
    HttpContext context, ModelPipeline pipeline, RequestOutcome outcome, LlmStackMetrics metrics, int maxOutputTokens, int reservedOutputTokens)
{
    private ModelPipeline _pipeline = pipeline;

    /// <summary>The model serving the call: the one the request named, or its fallback once the call has fallen back.</summary>
    public ServedModel Model => _pipeline.Model;

    public RequestOutcome Outcome => outcome;

    /// <summary>The ceiling on a request's output-token limit (<c>LlmStack:MaxOutputTokens</c>).</summary>
    public int MaxOutputTokens => maxOutputTokens;

    /// <summary>The client hanging up, or the server's cutoff: either cancels the model's work.</summary>
    public CancellationToken Aborted => context.RequestAborted;

    /// <summary>
    /// Sends the conversation. Not streamed: the whole reply. Streamed: the stream, its first update already read -
    /// nothing is sent to the client before it, so that until then a failure is still an ordinary error response.
    /// </summary>
    /// <param name="turn">The explicit conversation this request continues and its own id (the Responses API), for replica affinity.</param>
    public async Task<ModelReply> SendAsync(IList<ChatMessage> messages, ChatOptions options, bool stream, ConversationTurn? turn = null)
    {
        outcome.Stream = stream;
        outcome.Received(messages);
        // Each choice may write up to the output limit. First: a key that cannot afford the request never makes the
        // backend prepare it.
        await outcome.ReserveAsync((long)(options.MaxOutputTokens ?? reservedOutputTokens) * LlmStackChatOptions.ChoicesOf(options), Aborted);
        // Before the gate: what the backend refuses here (a schema with no grammar) never takes a slot, and is charged nothing.
        var prepared = Prepare(_pipeline, options);
        try
        {
            return await SendToAsync(_pipeline, prepared, messages, stream, turn);
        }
        catch (ApiErrorException error) when (_pipeline.Fallback is { } fallback && !Aborted.IsCancellationRequested
            && error.StatusCode is StatusCodes.Status502BadGateway or StatusCodes.Status503ServiceUnavailable or StatusCodes.Status504GatewayTimeout)
        {
            context.RequestServices.GetRequiredService<ILogger<ModelCall>>().LogWarning(
                "Request {RequestId}: model {Model} cannot serve it ({Reason}); it falls back to {Fallback}",
                context.TraceIdentifier, _pipeline.Model.Id, error.Message, fallback.Model.Id);
            _pipeline = fallback;
            return await SendToAsync(fallback, Prepare(fallback, options), messages, stream, turn);
        }
    }

    // The work the target's backend does on the request thread before admission (IChatPreparation), recorded against
    // the target like the call itself.
    private PreparedChat Prepare(ModelPipeline target, ChatOptions options)
    {
        outcome.Serves(target.Model);
        return target.Model.ChatClient.GetService<IChatPreparation>() is { } preparation
            ? preparation.Prepare(options, Aborted)
            : new PreparedChat(options);
    }

    // Takes over prepared: it is freed with the admission, when the reply has ended.
    private async Task<ModelReply> SendToAsync(ModelPipeline target, PreparedChat prepared, IList<ChatMessage> messages, bool stream, ConversationTurn? turn)
    {
        var options = prepared.Options;
        var client = outcome.Track(target);
        if (turn is not null && target.Model.Replicas.Count > 0)
        {
            // For the router only (it takes it out): a model with one backend never sees it.
            options = options.Clone();
            (options.AdditionalProperties ??= [])[ConversationTurn.OptionsKey] = turn;
        }
        var admission = await EnterAsync(target, LlmStackChatOptions.ChoicesOf(options), prepared);
        if (!stream)
        {
            using (admission)
            {
                return new ModelReply(await client.GetResponseAsync(messages, options, Aborted), null);
            }
        }
        var updates = client.GetStreamingResponseAsync(messages, options, Aborted).GetAsyncEnumerator(Aborted);
        try
        {
            var hasFirst = await updates.MoveNextAsync();
            return new ModelReply(null, new ModelStream(updates, hasFirst, outcome, admission));
        }
        catch
        {
            await updates.DisposeAsync();
            admission.Dispose();
            throw;
        }
    }

    /// <summary>The model's embedding generator for this request; 400 when its backend cannot embed.</summary>
    /// <remarks>Embeddings never fall back: another model's vectors are not comparable with this one's.</remarks>
    public IEmbeddingGenerator<string, Embedding<float>> Embeddings() =>
        outcome.TrackEmbeddings(_pipeline) ?? throw ApiErrorException.InvalidRequest(
            $"The model '{Model.Id}' cannot create embeddings: its backend ({Model.Backend}) has no embedding support.", "model", "unsupported_model");

    /// <summary>Embeds <paramref name="inputs"/> with <paramref name="generator"/> (from <see cref="Embeddings"/>), admitted like a chat.</summary>
    public async Task<GeneratedEmbeddings<Embedding<float>>> EmbedAsync(
        IEmbeddingGenerator<string, Embedding<float>> generator, IReadOnlyList<string> inputs, EmbeddingGenerationOptions options)
    {
        outcome.Received(inputs);
        await outcome.ReserveAsync(0, Aborted);
        using var admission = await EnterAsync(_pipeline);
        return await generator.GenerateAsync(inputs, options, Aborted);
    }

    /// <summary>
    /// Scores <paramref name="documents"/> against <paramref name="query"/>, admitted like a chat; 400 when the model cannot
    /// rerank, saying why. Reranks never fall back: another model's scores are not comparable with this one's.
    /// </summary>
    public async Task<RerankScores> RerankAsync(string query, IReadOnlyList<string> documents)
    {
        outcome.Serves(Model);
        var reranker = _pipeline.Reranker ?? throw Model.Rerank.Refuse(Model.Id);
        await outcome.ReserveAsync(0, Aborted);
        RerankScores scores;
        using (await EnterAsync(_pipeline))
        {
            scores = await reranker.RerankAsync(query, documents, Aborted);
        }
        if (scores.PromptTokens is { } tokens)
        {
            await outcome.UsedAsync(new UsageDetails { InputTokenCount = tokens, TotalTokenCount = tokens });
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

    // The model's gate (after the reservation), which takes keys in turn; in flight from the queue on. A request of
    // n choices takes n of the model's places: they generate at once. What the call prepared (prepared) is held with
    // the admission, and freed with it or when the gate refuses.
    private async Task<IDisposable> EnterAsync(ModelPipeline target, int places = 1, IDisposable? prepared = null)
    {
        if (places > target.Gate.Capacity)
        {
            prepared?.Dispose();
            throw ApiErrorException.InvalidRequest(
                $"The model '{target.Model.Id}' serves at most {target.Gate.Capacity} requests at once (MaxConcurrentRequests); {places} choices ('n' of every prompt) would need {places}.", "n", "unsupported_value");
        }
        var inFlight = metrics.InFlight(target.Model.Id, target.Model.Backend, outcome.Operation);
        try
        {
            var admission = await target.Gate.EnterAsync(ApiKeyDefaults.KeyNameOf(context.User), Aborted, places);
            outcome.Admit();
            return new Held(admission, inFlight, prepared);
        }
        catch
        {
            inFlight.Dispose();
            prepared?.Dispose();
            throw;
        }
    }

    private sealed class Held(IDisposable admission, IDisposable inFlight, IDisposable? prepared) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                admission.Dispose();
                inFlight.Dispose();
                prepared?.Dispose();
            }
        }
    }
}

/// <summary>A model's answer: the whole <see cref="Response"/>, or the <see cref="Stream"/> when the request streams.</summary>
internal sealed record ModelReply(ChatResponse? Response, ModelStream? Stream);

/// <summary>A streamed reply whose first update has been read (<see cref="HasFirst"/>: there was one).</summary>
internal sealed class ModelStream(IAsyncEnumerator<ChatResponseUpdate> updates, bool hasFirst, RequestOutcome outcome, IDisposable admission) : IAsyncDisposable
{
    private bool _disposed;

    public bool HasFirst => hasFirst;

    public ChatResponseUpdate Current => updates.Current;

    /// <summary>The request's outcome: first token, usage and finish reason of the reply so far.</summary>
    public RequestOutcome Outcome => outcome;

    public ValueTask<bool> MoveNextAsync() => updates.MoveNextAsync();

    /// <summary>Releases the model's call (its slot, its connection) and its admission; once.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_disposed)
        {
            _disposed = true;
            try
            {
                await updates.DisposeAsync();
            }
            finally
            {
                admission.Dispose();
            }
        }
    }
}
