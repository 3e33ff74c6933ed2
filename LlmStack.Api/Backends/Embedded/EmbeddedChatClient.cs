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

    /// <summary>
    /// The model's chat client: a text completion of several prompts is one group of <c>n</c> choices per prompt, each
    /// group sharing its prompt's evaluation, all generating in the same batch.
    /// </summary>
    public static IChatClient For(EmbeddedModelHost host) => new FanOutChatClient(new EmbeddedChatClient(host), FanOut.Prompts);

    // Models whose template writes reasoning in <think> blocks get it split from the reply.
    private readonly bool _thinksInBlocks = ThinkBlockParser.UsedBy(host.Weights.Metadata.GetValueOrDefault("tokenizer.chat_template"));

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        // A reply given whole has its calls whole: the pieces of their arguments are for streams.
        var updates = GetStreamingResponseAsync(messages, options, cancellationToken).Select(WholeCallsOnly);
        var choices = LlmStackChatOptions.ChoicesOf(options);
        return choices == 1
            ? await updates.ToChatResponseAsync(cancellationToken).ConfigureAwait(false)
            : LlmStackChatOptions.ToChoicesResponse(await updates.ToListAsync(cancellationToken).ConfigureAwait(false), choices);
    }

    private static ChatResponseUpdate WholeCallsOnly(ChatResponseUpdate update)
    {
        if (update.Contents.Any(c => c is FunctionCallArgumentsContent))
        {
            update.Contents = [.. update.Contents.Where(c => c is not FunctionCallArgumentsContent)];
        }
        return update;
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages,
        ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        // Requests are validated above the backends (ChatRequestMapping): max_tokens is at least 1 and a required
        // tool is among the tools.
        cancellationToken.ThrowIfCancellationRequested();
        var raw = LlmStackChatOptions.RawPromptOf(messages, options);
        var generations = Submit(messages, raw, options, out var prompt, cancellationToken);
        var created = DateTimeOffset.UtcNow;
        var several = generations.Count > 1;
        // A raw prompt's continuation is text as the model writes it: no tool calls or reasoning are read out of it.
        var parsesTools = raw is null && options?.Tools is { Count: > 0 } && options.ToolMode is not NoneChatToolMode;
        var choices = generations.Select(g => new ChoiceText(
            g.Choice,
            parsesTools ? new ToolCallParser() : null,
            raw is null && _thinksInBlocks ? new ThinkBlockParser(startsInside: ThinkBlockParser.OpenedBy(prompt)) : null)).ToList();
        var usage = new UsageDetails { InputTokenCount = 0, CachedInputTokenCount = 0, OutputTokenCount = 0, TotalTokenCount = 0 };
        try
        {
            var events = generations[0].Events;
            while (await events.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (events.TryRead(out var generated))
                {
                    // Text already generated is not sent once the caller has cancelled.
                    cancellationToken.ThrowIfCancellationRequested();
                    if (generated is TextGenerated text)
                    {
                        var choice = choices[text.Choice];
                        var updates = Updates(choice, text.Text).ToList();
                        if (text.Logprobs is { } logprobs)
                        {
                            // With the text they are the probabilities of (its last update), or alone when parsers hold it.
                            var carrier = updates.Count > 0 ? updates[^1] : Stamp(new ChatResponseUpdate(ChatRole.Assistant, []), choice);
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
                    var ended = choices[finished.Choice];
                    foreach (var update in Updates(ended, "", flush: true))
                    {
                        yield return update;
                    }
                    // The prompt was read once (the other choices copied its KV): it counts once.
                    if (finished.Choice == 0)
                    {
                        usage.InputTokenCount = finished.PromptTokens;
                        usage.CachedInputTokenCount = finished.CachedPromptTokens;
                    }
                    usage.OutputTokenCount += finished.OutputTokens;
                    usage.TotalTokenCount = usage.InputTokenCount + usage.OutputTokenCount;
                    var reason = ended.CalledTools ? ChatFinishReason.ToolCalls : finished.Reason;
                    if (several)
                    {
                        yield return Stamp(new ChatResponseUpdate(ChatRole.Assistant, []) { FinishReason = reason }, ended);
                    }
                    ended.Finished = true;
                    if (choices.All(c => c.Finished))
                    {
                        // One usage for the whole request; alone, it ends the only choice too.
                        yield return Stamp(new ChatResponseUpdate(ChatRole.Assistant, [new UsageContent(usage)]) { FinishReason = several ? null : reason }, null);
                    }
                }
            }
        }
        finally
        {
            // A no-op once the generations ended. Otherwise the caller stopped reading: the scheduler frees their
            // sequences (or queue places) within a step, and the request ends only then, so that what it held is
            // free when it returns.
            foreach (var generation in generations)
            {
                generation.Cancel();
            }
            host.Scheduler.Wake();
            await Task.WhenAll(generations.Select(g => g.Ended)).ConfigureAwait(false);
        }

        // Reasoning is split off first; the reply's text then goes through the tool-call parser.
        IEnumerable<ChatResponseUpdate> Updates(ChoiceText choice, string text, bool flush = false)
        {
            IReadOnlyList<AIContent> split = choice.Think is null
                ? text.Length > 0 ? [new TextContent(text)] : []
                : [.. choice.Think.Push(text), .. flush ? choice.Think.Flush() : []];
            var contents = new List<AIContent>();
            foreach (var piece in split)
            {
                contents.AddRange(choice.Tools is not null && piece is TextContent reply ? choice.Tools.Push(reply.Text) : [piece]);
            }
            if (flush && choice.Tools is not null)
            {
                contents.AddRange(choice.Tools.Flush());
            }
            choice.CalledTools |= contents.Any(c => c is FunctionCallContent);
            return contents.Select(content => Stamp(new ChatResponseUpdate(ChatRole.Assistant, [content]), choice));
        }

        // The choice is named only when there are several: a reply of one reads as it always has.
        ChatResponseUpdate Stamp(ChatResponseUpdate update, ChoiceText? choice)
        {
            update.ModelId = host.Id;
            update.CreatedAt = created;
            if (several && choice is not null)
            {
                LlmStackChatOptions.SetChoice(update, choice.Index);
            }
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

    // One choice's parsers of the text it streams, and what they found.
    private sealed class ChoiceText(int index, ToolCallParser? tools, ThinkBlockParser? think)
    {
        public int Index { get; } = index;

        public ToolCallParser? Tools { get; } = tools;

        public ThinkBlockParser? Think { get; } = think;

        public bool CalledTools { get; set; }

        public bool Finished { get; set; }
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
    // scheduler's loop. Each choice samples with its own pipeline; with a seed, choice i uses seed + i, so that the
    // choices differ and the request is still reproducible.
    private IReadOnlyList<Generation> Submit(IEnumerable<ChatMessage> messages, RawPrompt? raw, ChatOptions? options, out string prompt, CancellationToken cancellationToken)
    {
        var n = LlmStackChatOptions.ChoicesOf(options);
        if (n > host.Scheduler.Capacity)
        {
            throw ApiErrorException.InvalidRequest(
                $"The model '{host.Id}' generates at most {host.Scheduler.Capacity} sequences at once (its ParallelSlots); 'n' = {n} asks for more.", "n", "unsupported_value");
        }
        var samplings = new List<ISamplingPipeline>(n);
        try
        {
            var seed = options?.Seed is { } fixedSeed ? unchecked((uint)fixedSeed) : (uint)Random.Shared.Next();
            for (var i = 0; i < n; i++)
            {
                samplings.Add(CreateSampling(options, unchecked(seed + (uint)i), cancellationToken));
            }
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
            var top = LlmStackChatOptions.LogprobsOf(options);
            return host.Scheduler.Submit(
                [.. samplings.Select(sampling => new GenerationRequest(promptTokens, sampling, options?.StopSequences, options?.MaxOutputTokens, top))], cancellationToken);
        }
        catch
        {
            foreach (var sampling in samplings)
            {
                sampling.Dispose();
            }
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
    // went through it - the first choice's: each further choice of n samples its own state, parsed here - and a call
    // that did not go through it (a replica chosen after admission) has llama.cpp parse it here, once.
    private ISamplingPipeline CreateSampling(ChatOptions? options, uint seed, CancellationToken cancellationToken)
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
                Seed = seed,
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
