namespace LlmStack.Api.Configuration;

/// <summary>
/// <c>LlmStack:Models:&lt;n&gt;:Embedded:*</c>: how the embedded backend runs a GGUF file with llama.cpp. Unset values
/// take the defaults below, each written here once (the README's table is checked against them by a test).
/// </summary>
public sealed class EmbeddedModelOptions
{
    /// <summary>Context length per sequence when the model's own is larger and none is configured.</summary>
    public const int DefaultMaxContextSize = 4096;

    /// <summary>
    /// Prompt tokens decoded at once while no stream is generating; llama.cpp's default too. Measured on a
    /// Qwen2.5-0.5B-shaped model against llama-server: with <see cref="DefaultStepTokens"/> 512 and no
    /// <see cref="DefaultTargetTokenGap"/>, prefill 0.84-0.95x and 8 streams 0.78x its aggregate, against 0.64x with
    /// 128 / 32 / 150 ms (docs/benchmarks.md, "large prompt steps").
    /// </summary>
    public const int DefaultBatchSize = 512;

    /// <summary>
    /// Tokens per decode step while streams are generating (their next tokens plus a prompt chunk). On a CPU a prompt
    /// token costs about as much as a stream's decode, so many small steps make every stream wait longer in all: taking
    /// a waiting prompt in steps of 512 (as llama-server takes a prompt whole) gave 8 streams on the 0.5B shape an
    /// inter-token p95 of 1.8x llama-server's against 3.8x with 32, and a lower TTFT (docs/benchmarks.md, "large
    /// prompt steps"). Against 2048 (llama-server's n_batch: a burst of prompts in one step), 512 keeps a stream's longest
    /// wait at ~3 s instead of 8-10 s and halves TTFT under load, for more long gaps (docs/benchmarks.md, "Streams while
    /// prompts arrive").
    /// </summary>
    public const int DefaultStepTokens = 512;

    /// <summary>
    /// The step time aimed at while streams are generating - the gap between a stream's tokens - when prompts are
    /// waiting: a step carries as many prompt tokens as fit in it at the cost measured on this machine. Off by default
    /// (every step carries up to <see cref="DefaultStepTokens"/>): on the 0.5B shape one decode of 8 streams took longer
    /// than the 150 and 250 ms tried, so the target never shortened a step, and the run without one beat them.
    /// </summary>
    public static readonly TimeSpan DefaultTargetTokenGap = TimeSpan.Zero;

    /// <summary>
    /// Sequences generating at once; the rest wait in a FIFO queue. On the 0.5B shape the aggregate speed still
    /// grows from 8 to 16 sequences (docs/benchmarks.md).
    /// </summary>
    public const int DefaultParallelSlots = 16;

    /// <summary>
    /// Tokens of KV cache shared by the sequences when <see cref="KvCacheSize"/> is not set and a full context per
    /// slot would be more: 16,384 tokens is 0.2 GB on Qwen2.5-0.5B and 0.9 GB on 7B (F16 KV).
    /// </summary>
    public const int DefaultKvCacheBudget = 16_384;

    /// <summary>
    /// The share of an idle sequence's cached tokens a new prompt must start with for that sequence to be continued
    /// (its tokens past the shared prefix dropped). llama-server's <c>--slot-prompt-similarity</c> (0.1 there) plays
    /// the same part, but llama-server cannot copy a prefix between slots; here the shared prefix is copied into
    /// another sequence for free (the KV cache is unified), so only the next turn of the same conversation (or a
    /// retry of the same prompt) needs to continue a sequence, and every other conversation's tail is kept.
    /// </summary>
    public const double DefaultSlotPromptSimilarity = 0.9;

    /// <summary>
    /// Host memory for the KV state of conversations evicted from the KV cache, 1 GiB: about 87,000 tokens of
    /// Qwen2.5-0.5B (12 KiB per token, F16) - a few hundred conversations - or 18,000 of 7B (56 KiB per token).
    /// llama-server's <c>--cache-ram</c> (8 GiB there) plays the same part.
    /// </summary>
    public const long DefaultHostCacheBytes = 1L << 30;

    /// <summary>Below this many parameters a model decodes on one thread by default: thread coordination costs more than it saves.</summary>
    public const ulong SingleThreadParameterLimit = 50_000_000;

    /// <summary>
    /// Context length in tokens per request (prompt + reply): the context of each of the <see cref="ParallelSlots"/>
    /// sequences; default: the model's own, capped at <see cref="DefaultMaxContextSize"/>.
    /// </summary>
    public int? ContextSize { get; set; }

    /// <summary>
    /// CPU threads per decode; default: 1 for models under <see cref="SingleThreadParameterLimit"/> parameters
    /// (measured ~5,500 tok/s with 1 thread against an erratic 1,000-1,700 with 2 on a tiny model), otherwise every core.
    /// </summary>
    public int? Threads { get; set; }

    /// <summary>Prompt tokens per llama.cpp decode while no stream is generating; default <see cref="DefaultBatchSize"/>.</summary>
    public int? BatchSize { get; set; }

    /// <summary>
    /// The least tokens a decode step carries while streams are generating - one for each stream plus a chunk of a
    /// waiting prompt, so prompts always progress; default <see cref="DefaultStepTokens"/>. Steps carry more when
    /// <see cref="TargetTokenGap"/> allows. Must exceed <see cref="ParallelSlots"/>.
    /// </summary>
    public int? StepTokens { get; set; }

    /// <summary>
    /// The gap between a stream's tokens aimed at while prompts are waiting: each step carries as many prompt tokens
    /// as fit in it at the step cost measured so far (at least <see cref="StepTokens"/>, at most
    /// <see cref="BatchSize"/>). Shorter keeps streams smoother, longer starts new requests sooner; zero gives every
    /// step exactly <see cref="StepTokens"/>. Default <see cref="DefaultTargetTokenGap"/>.
    /// </summary>
    public TimeSpan? TargetTokenGap { get; set; }

    /// <summary>Requests generated at once, batched into one decode per token; default <see cref="DefaultParallelSlots"/>.</summary>
    public int? ParallelSlots { get; set; }

    /// <summary>
    /// Tokens of KV cache shared by all sequences (prompt and reply tokens of running requests and cached
    /// conversations); default <see cref="ParallelSlots"/> x <see cref="ContextSize"/>, at most
    /// <see cref="DefaultKvCacheBudget"/> (and at least one context).
    /// </summary>
    public int? KvCacheSize { get; set; }

    /// <summary>
    /// 0 to 1: a new request continues an idle sequence only when its prompt starts with at least this share of the
    /// tokens that sequence holds; otherwise it takes an empty sequence, else the one used longest ago, and copies the
    /// longest shared prefix (system prompt, tools) from whichever sequence holds it. Default
    /// <see cref="DefaultSlotPromptSimilarity"/>.
    /// </summary>
    public double? SlotPromptSimilarity { get; set; }

    /// <summary>
    /// Bytes of host memory for conversations evicted from the KV cache (for another conversation, or for room): their
    /// KV state is saved there, least recently used dropped first, and restored when a prompt continues one; 0 turns
    /// the tier off. Filled as conversations are evicted, not allocated at start. Default <see cref="DefaultHostCacheBytes"/>.
    /// </summary>
    public long? HostCacheBytes { get; set; }

    /// <summary>Layers offloaded to a GPU (0 on the CPU backend).</summary>
    public int GpuLayers { get; set; }

    /// <summary>The slots this configuration asks for, default filled in.</summary>
    public int ParallelSlotsOrDefault => ParallelSlots ?? DefaultParallelSlots;

    /// <summary>The step size this configuration asks for, default filled in.</summary>
    public int StepTokensOrDefault => StepTokens ?? DefaultStepTokens;

    /// <summary>The target gap this configuration asks for, default filled in.</summary>
    public TimeSpan TargetTokenGapOrDefault => TargetTokenGap ?? DefaultTargetTokenGap;

    /// <summary>The batch size this configuration asks for, default filled in.</summary>
    public int BatchSizeOrDefault => BatchSize ?? DefaultBatchSize;

    /// <summary>The prompt similarity this configuration asks for, default filled in.</summary>
    public double SlotPromptSimilarityOrDefault => SlotPromptSimilarity ?? DefaultSlotPromptSimilarity;

    /// <summary>The host cache budget this configuration asks for, default filled in.</summary>
    public long HostCacheBytesOrDefault => HostCacheBytes ?? DefaultHostCacheBytes;

    /// <summary>The context per sequence, given the model's own context length.</summary>
    public int ContextSizeFor(int modelContext) => ContextSize ?? Math.Min(modelContext, DefaultMaxContextSize);

    /// <summary>
    /// The KV cache for <paramref name="context"/> tokens per sequence: the configured size, or a full context for every
    /// slot up to <see cref="DefaultKvCacheBudget"/> tokens (and never less than one full context) - sequences share the
    /// cache, and most requests use a fraction of their context.
    /// </summary>
    public int KvCacheSizeFor(int context) =>
        KvCacheSize ?? (int)Math.Max(context, Math.Min((long)ParallelSlotsOrDefault * context, DefaultKvCacheBudget));

    /// <summary>The threads for a model of <paramref name="parameterCount"/> parameters.</summary>
    public int ThreadsFor(ulong parameterCount) =>
        Threads ?? (parameterCount < SingleThreadParameterLimit ? 1 : Environment.ProcessorCount);
}
