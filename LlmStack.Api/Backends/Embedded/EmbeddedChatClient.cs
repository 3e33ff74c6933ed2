using System.Runtime.CompilerServices;
using LLama.Native;
using LLama.Sampling;
using LlmStack.Api.Backends.Embedded.Batching;
using LlmStack.Api.Errors;
using Microsoft.Extensions.AI;

namespace LlmStack.Api.Backends.Embedded;

/// <summary>
/// Chat with a GGUF model in-process. A request renders the conversation with the GGUF's chat template, hands its
/// tokens and sampling settings to the model's <see cref="BatchScheduler"/> (which decodes every request of the
/// model in one batch per token), and streams one update per decoded piece of text it receives back.
/// </summary>
/// <remarks>
/// Sampling defaults when a request does not say (llama.cpp's own): temperature 0.8, top_p 0.95, top_k 40,
/// min_p 0.05, no penalties, a random seed. Output runs until end-of-turn, a stop sequence, the request's
/// max output tokens, or a full context (finish reason "length"). A prompt that does not fit the context is
/// refused with <see cref="ApiErrorException.ContextLengthExceeded"/> before any generation. A structured request's
/// grammar is converted and parsed by llama.cpp before the request is admitted (<see cref="Prepare"/>).
/// </remarks>
internal sealed class EmbeddedChatClient(EmbeddedModelHost host) : IChatClient, IChatPreparation
{
    public const float DefaultTemperature = 0.8f;
    public const float DefaultTopP = 0.95f;
    public const int DefaultTopK = 40;
    public const float DefaultMinP = 0.05f;

    private readonly ChatClientMetadata _metadata = new("llama.cpp", new Uri(host.Path), host.Id);

    // Models whose template writes reasoning in <think> blocks get it split from the reply.
    private readonly bool _thinksInBlocks = ThinkBlockParser.UsedBy(host.Weights.Metadata.GetValueOrDefault("tokenizer.chat_template"));

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        await GetStreamingResponseAsync(messages, options, cancellationToken).ToChatResponseAsync(cancellationToken).ConfigureAwait(false);

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages,
        ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        // Requests are validated above the backends (ChatRequestMapping): max_tokens is at least 1 and a required
        // tool is among the tools.
        cancellationToken.ThrowIfCancellationRequested();
        var raw = LlmStackChatOptions.RawPromptOf(messages, options);
        var generation = Submit(messages, raw, options, out var prompt, cancellationToken);
        var created = DateTimeOffset.UtcNow;
        // A raw prompt's continuation is text as the model writes it: no tool calls or reasoning are read out of it.
        var tools = raw is null && options?.Tools is { Count: > 0 } && options.ToolMode is not NoneChatToolMode ? new ToolCallParser() : null;
        var think = raw is null && _thinksInBlocks ? new ThinkBlockParser(startsInside: ThinkBlockParser.OpenedBy(prompt)) : null;
        var calledTools = false;
        try
        {
            var events = generation.Events;
            while (await events.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (events.TryRead(out var generated))
                {
                    // Text already generated is not sent once the caller has cancelled.
                    cancellationToken.ThrowIfCancellationRequested();
                    if (generated is TextGenerated text)
                    {
                        var updates = Updates(text.Text).ToList();
                        if (text.Logprobs is { } logprobs)
                        {
                            // With the text they are the probabilities of (its last update), or alone when parsers hold it.
                            var carrier = updates.Count > 0 ? updates[^1] : Stamp(new ChatResponseUpdate(ChatRole.Assistant, []));
                            carrier.Contents.Add(new TokenLogprobsContent(logprobs));
                            if (updates.Count == 0)
                            {
                                updates.Add(carrier);
                            }
                        }
                        foreach (var update in updates)
                        {
                            yield return update;
                        }
                        continue;
                    }
                    var finished = (GenerationFinished)generated;
                    foreach (var update in Updates("", flush: true))
                    {
                        yield return update;
                    }
                    yield return Stamp(new ChatResponseUpdate(ChatRole.Assistant,
                    [
                        new UsageContent(new UsageDetails
                        {
                            InputTokenCount = finished.PromptTokens,
                            CachedInputTokenCount = finished.CachedPromptTokens,
                            OutputTokenCount = finished.OutputTokens,
                            TotalTokenCount = finished.PromptTokens + finished.OutputTokens,
                        }),
                    ])
                    {
                        FinishReason = calledTools ? ChatFinishReason.ToolCalls : finished.Reason,
                    });
                }
            }
        }
        finally
        {
            // A no-op once the generation ended. Otherwise the caller stopped reading: the scheduler frees the
            // sequence (or the queue place) within a step, and the request ends only then, so that what it
            // held is free when it returns.
            generation.Cancel();
            host.Scheduler.Wake();
            await generation.Ended.ConfigureAwait(false);
        }

        // Reasoning is split off first; the reply's text then goes through the tool-call parser.
        IEnumerable<ChatResponseUpdate> Updates(string text, bool flush = false)
        {
            IReadOnlyList<AIContent> split = think is null
                ? text.Length > 0 ? [new TextContent(text)] : []
                : [.. think.Push(text), .. flush ? think.Flush() : []];
            var contents = new List<AIContent>();
            foreach (var piece in split)
            {
                contents.AddRange(tools is not null && piece is TextContent reply ? tools.Push(reply.Text) : [piece]);
            }
            if (flush && tools is not null)
            {
                contents.AddRange(tools.Flush());
            }
            calledTools |= contents.Any(c => c is FunctionCallContent);
            return contents.Select(content => Stamp(new ChatResponseUpdate(ChatRole.Assistant, [content])));
        }

        ChatResponseUpdate Stamp(ChatResponseUpdate update)
        {
            update.ModelId = host.Id;
            update.CreatedAt = created;
            return update;
        }
    }

    /// <summary>
    /// The request's grammar (a required tool call, a JSON schema, JSON mode), converted from its schema and parsed by
    /// llama.cpp on the request thread before the request takes a slot: a schema that has no grammar llama.cpp accepts
    /// is a 400 that never waited for the model, and the batch loop only samples with what was parsed here, once.
    /// </summary>
    public PreparedChat Prepare(ChatOptions options, CancellationToken cancellationToken)
    {
        if (ParseGrammar(options, cancellationToken) is not { } grammar)
        {
            return new PreparedChat(options);
        }
        var prepared = new PreparedGrammar(host, grammar);
        return new PreparedChat(PreparedGrammar.Carry(options, prepared), prepared);
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

    // Renders, tokenizes and parses the grammar on the caller's thread; only decoding and sampling happen on the
    // scheduler's loop.
    private Generation Submit(IEnumerable<ChatMessage> messages, RawPrompt? raw, ChatOptions? options, out string prompt, CancellationToken cancellationToken)
    {
        var sampling = CreateSampling(options, cancellationToken);
        try
        {
            // Message text is tokenized as text: only the template's own markers become control tokens.
            (prompt, var promptTokens) = raw is null
                ? ChatPrompt.Tokenize(host.Weights, host.CreateTemplate, messages, options)
                : (raw.Prompt, RawTokens(raw));
            if (promptTokens.Length == 0)
            {
                throw ApiErrorException.InvalidRequest("The prompt has no tokens.", "prompt");
            }
            // At least one token must fit after the prompt.
            if (promptTokens.Length >= host.ContextSize)
            {
                throw ApiErrorException.ContextLengthExceeded(promptTokens.Length, host.ContextSize);
            }
            return host.Scheduler.Submit(new GenerationRequest(promptTokens, sampling, options?.StopSequences, options?.MaxOutputTokens, LlmStackChatOptions.LogprobsOf(options)), cancellationToken);
        }
        catch
        {
            sampling.Dispose();
            throw;
        }
    }

    // A text completion's prompt as llama-server tokenizes it: the model's special tokens written in it are those
    // tokens (there are no roles to protect). With a suffix, llama.cpp's fill-in-the-middle layout:
    // <FIM_PRE>prefix<FIM_SUF>suffix<FIM_MID>, the model writing the middle.
    private LLamaToken[] RawTokens(RawPrompt raw)
    {
        var weights = host.Weights;
        if (raw.Suffix is null)
        {
            return weights.Tokenize(raw.Prompt, weights.Vocab.ShouldAddBOS, special: true, LLama.LLamaTemplate.Encoding);
        }
        var vocab = weights.Vocab;
        if (vocab.InfillPrefix is not { } pre || vocab.InfillSuffix is not { } suf || vocab.InfillMiddle is not { } mid)
        {
            throw ApiErrorException.InvalidRequest(
                $"The model '{host.Id}' cannot fill in the middle: its vocabulary has no fill-in-the-middle tokens. Leave 'suffix' out.", "suffix", "unsupported_parameter");
        }
        List<LLamaToken> tokens = vocab.ShouldAddBOS && vocab.BOS is { } bos ? [bos] : [];
        tokens.Add(pre);
        tokens.AddRange(weights.Tokenize(raw.Prompt, false, special: false, LLama.LLamaTemplate.Encoding));
        tokens.Add(suf);
        tokens.AddRange(weights.Tokenize(raw.Suffix, false, special: false, LLama.LLamaTemplate.Encoding));
        tokens.Add(mid);
        return [.. tokens];
    }

    // A required tool call is enforced, not hoped for, its arguments following the function's parameter
    // schema; a JSON schema response format is enforced by the schema's grammar; plain JSON mode is at least
    // a JSON object (SchemaGrammar.For). The grammar is the one parsed before admission (Prepare) when the request
    // went through it; a call that did not (a replica chosen after admission) has llama.cpp parse it here, once.
    private ISamplingPipeline CreateSampling(ChatOptions? options, CancellationToken cancellationToken)
    {
        var grammar = PreparedGrammar.TakeFrom(options, host);
        DefaultSamplingPipeline stages;
        try
        {
            stages = new DefaultSamplingPipeline
            {
                Temperature = options?.Temperature ?? DefaultTemperature,
                TopP = options?.TopP ?? DefaultTopP,
                TopK = options?.TopK ?? DefaultTopK,
                MinP = DefaultMinP,
                FrequencyPenalty = options?.FrequencyPenalty ?? 0,
                PresencePenalty = options?.PresencePenalty ?? 0,
                Seed = options?.Seed is { } seed ? unchecked((uint)seed) : (uint)Random.Shared.Next(),
            };
        }
        catch (ArgumentOutOfRangeException ex) when (ex.ParamName == "value")
        {
            grammar?.Dispose();
            throw ApiErrorException.InvalidRequest(ex.Message);
        }
        try
        {
            grammar ??= ParseGrammar(options, cancellationToken);
            return grammar is null ? stages : new GrammarSamplingPipeline(stages, grammar, host.TokenText);
        }
        catch
        {
            grammar?.Dispose();
            stages.Dispose();
            throw;
        }
    }

    // The grammar a request's options ask for, parsed by llama.cpp for this model; null for free text.
    private ParsedGrammar? ParseGrammar(ChatOptions? options, CancellationToken cancellationToken)
    {
        if (SchemaGrammar.For(options, cancellationToken) is not { } gbnf)
        {
            return null;
        }
        try
        {
            return ParsedGrammar.Parse(host.Weights.NativeHandle, gbnf);
        }
        catch (UnsupportedSchemaException ex)
        {
            throw ApiErrorException.InvalidRequest(ex.Message, code: ex.Code);
        }
    }
}
