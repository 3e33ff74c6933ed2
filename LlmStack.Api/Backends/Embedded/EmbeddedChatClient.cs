using System.Runtime.CompilerServices;
using LLama;
using LLama.Native;
using LLama.Sampling;
using LlmStack.Api.Errors;
using Microsoft.Extensions.AI;

namespace LlmStack.Api.Backends.Embedded;

/// <summary>
/// Chat with a GGUF model in-process. Each request waits for a slot of the model's <see cref="SlotPool"/>,
/// then gets its own llama.cpp context (one context shared by concurrent requests crashes llama.cpp),
/// renders the conversation with the GGUF's chat template, and streams one update per decoded piece of text.
/// </summary>
/// <remarks>
/// Sampling defaults when a request does not say (llama.cpp's own): temperature 0.8, top_p 0.95, top_k 40,
/// min_p 0.05, no penalties, a random seed. Output runs until end-of-turn, a stop sequence, the request's
/// max output tokens, or a full context (finish reason "length"). A prompt that does not fit the context is
/// refused with <see cref="ApiErrorException.ContextLengthExceeded"/> before any generation.
/// </remarks>
public sealed class EmbeddedChatClient(EmbeddedModelHost host) : IChatClient
{
    public const float DefaultTemperature = 0.8f;
    public const float DefaultTopP = 0.95f;
    public const int DefaultTopK = 40;
    public const float DefaultMinP = 0.05f;

    private readonly ChatClientMetadata _metadata = new("llama.cpp", new Uri(host.Path), host.Id);

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        await GetStreamingResponseAsync(messages, options, cancellationToken).ToChatResponseAsync(cancellationToken).ConfigureAwait(false);

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages,
        ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        // Requests are validated above the backends (ChatRequestMapping): max_tokens is at least 1 and a required
        // tool is among the tools.
        var maxOutputTokens = options?.MaxOutputTokens;
        using var sampling = CreateSampling(options);

        using var slot = await host.Slots.AcquireAsync(cancellationToken).ConfigureAwait(false);
        var prompt = ChatPrompt.Render(host.CreateTemplate(), messages, options);
        var promptTokens = host.Weights.Tokenize(prompt, host.Weights.Vocab.ShouldAddBOS, special: true, LLamaTemplate.Encoding);
        // At least one token must fit after the prompt.
        if (promptTokens.Length >= host.ContextSize)
        {
            throw ApiErrorException.ContextLengthExceeded(promptTokens.Length, host.ContextSize);
        }

        using var cached = host.RentContext(promptTokens);
        var context = cached.Context;
        using var abort = DecodeAbort.Register(context, cancellationToken);
        var created = DateTimeOffset.UtcNow;
        var decoder = new StreamingTokenDecoder(context);
        var stops = new StopSequenceMatcher(options?.StopSequences);
        var tools = options?.Tools is { Count: > 0 } && options.ToolMode is not NoneChatToolMode ? new ToolCallParser() : null;
        var batch = new LLamaBatch();
        await PrefillAsync(cached, batch, promptTokens, cancellationToken).ConfigureAwait(false);
        var position = promptTokens.Length;

        var outputTokens = 0;
        var finish = ChatFinishReason.Length;
        var calledTools = false;
        while (!cancellationToken.IsCancellationRequested)
        {
            var token = sampling.Sample(context.NativeHandle, batch.TokenCount - 1);
            if (token.IsEndOfGeneration(host.Weights.Vocab))
            {
                finish = ChatFinishReason.Stop;
                break;
            }
            outputTokens++;
            decoder.Add(token);
            var text = stops.Push(decoder.Read());
            foreach (var update in Updates(text, tools))
            {
                calledTools |= update.Contents.Any(c => c is FunctionCallContent);
                yield return update;
            }
            if (stops.Stopped)
            {
                finish = ChatFinishReason.Stop;
                break;
            }
            if (outputTokens == maxOutputTokens || position + 1 >= context.ContextSize)
            {
                break;
            }

            batch.Clear();
            batch.Add(token, position++, LLamaSeqId.Zero, logits: true);
            EnsureDecoded(await context.DecodeAsync(batch, cancellationToken).ConfigureAwait(false), cancellationToken);
            cached.Decoded([token]);
        }
        // llama.cpp can end a cancelled run quietly; the caller must still see the cancellation.
        cancellationToken.ThrowIfCancellationRequested();
        cached.Complete();

        foreach (var update in Updates(stops.Flush(), tools, flush: true))
        {
            calledTools |= update.Contents.Any(c => c is FunctionCallContent);
            yield return update;
        }

        yield return Stamp(new ChatResponseUpdate(ChatRole.Assistant,
        [
            new UsageContent(new UsageDetails
            {
                InputTokenCount = promptTokens.Length,
                CachedInputTokenCount = cached.ReusedTokens,
                OutputTokenCount = outputTokens,
                TotalTokenCount = promptTokens.Length + outputTokens,
            }),
        ])
        {
            FinishReason = calledTools ? ChatFinishReason.ToolCalls : finish,
        });

        IEnumerable<ChatResponseUpdate> Updates(string text, ToolCallParser? parser, bool flush = false)
        {
            IReadOnlyList<AIContent> contents = parser is null
                ? text.Length > 0 ? [new TextContent(text)] : []
                : [.. parser.Push(text), .. flush ? parser.Flush() : []];
            return contents.Select(content => Stamp(new ChatResponseUpdate(ChatRole.Assistant, [content])));
        }

        ChatResponseUpdate Stamp(ChatResponseUpdate update)
        {
            update.ModelId = host.Id;
            update.CreatedAt = created;
            return update;
        }
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is not null ? null
        : serviceType == typeof(ChatClientMetadata) ? _metadata
        : serviceType.IsInstanceOfType(host) ? host
        : serviceType.IsInstanceOfType(this) ? this
        : null;

    public void Dispose()
    {
        // The host owns the weights; the served model disposes it.
    }

    // Only the tokens the cache lacks, a batch at a time: without llama.cpp's abort callback a cancelled
    // request still stops between batches.
    private static async Task PrefillAsync(EmbeddedModelHost.CachedContext cached, LLamaBatch batch, LLamaToken[] tokens, CancellationToken cancellationToken)
    {
        var context = cached.Context;
        var batchSize = (int)context.BatchSize;
        for (var start = cached.Tokens.Count; start < tokens.Length; start += batchSize)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var chunk = new ArraySegment<LLamaToken>(tokens, start, Math.Min(batchSize, tokens.Length - start));
            batch.Clear();
            batch.AddRange(chunk, start, LLamaSeqId.Zero, logitsLast: start + chunk.Count == tokens.Length);
            EnsureDecoded(await context.DecodeAsync(batch, cancellationToken).ConfigureAwait(false), cancellationToken);
            cached.Decoded(chunk);
        }
    }

    private static void EnsureDecoded(DecodeResult result, CancellationToken cancellationToken)
    {
        if (result == DecodeResult.ComputeAborted)
        {
            cancellationToken.ThrowIfCancellationRequested();
        }
        if (result != DecodeResult.Ok)
        {
            throw new InvalidOperationException($"llama.cpp failed to decode: {result}.");
        }
    }

    // A required tool call is enforced, not hoped for, its arguments following the function's parameter
    // schema; a JSON schema response format is enforced by the schema's grammar; plain JSON mode is at least
    // a JSON object.
    private static Grammar? ChooseGrammar(ChatOptions? options)
    {
        var tools = options?.Tools?.OfType<AIFunctionDeclaration>().ToList() ?? [];
        if (options?.ToolMode is RequiredChatToolMode required && tools.Count > 0)
        {
            return SchemaGrammar.ToolCall(required.RequiredFunctionName is { } only ? tools.Where(t => t.Name == only) : tools);
        }
        return options?.ResponseFormat switch
        {
            ChatResponseFormatJson { Schema: { } schema } => SchemaGrammar.ForResponse(schema, SchemaGrammar.IsStrict(options.AdditionalProperties)),
            ChatResponseFormatJson => JsonGrammar.Object,
            _ => null,
        };
    }

    private static DefaultSamplingPipeline CreateSampling(ChatOptions? options)
    {
        try
        {
            return new DefaultSamplingPipeline
            {
                Temperature = options?.Temperature ?? DefaultTemperature,
                TopP = options?.TopP ?? DefaultTopP,
                TopK = options?.TopK ?? DefaultTopK,
                MinP = DefaultMinP,
                FrequencyPenalty = options?.FrequencyPenalty ?? 0,
                PresencePenalty = options?.PresencePenalty ?? 0,
                Seed = options?.Seed is { } seed ? unchecked((uint)seed) : (uint)Random.Shared.Next(),
                Grammar = ChooseGrammar(options),
            };
        }
        catch (ArgumentOutOfRangeException ex) when (ex.ParamName == "value")
        {
            throw ApiErrorException.InvalidRequest(ex.Message);
        }
    }
}
