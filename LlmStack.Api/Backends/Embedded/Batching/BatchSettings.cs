namespace LlmStack.Api.Backends.Embedded.Batching;

/// <summary>
/// How a <see cref="BatchScheduler"/> shares its model: <paramref name="Slots"/> sequences generate at once, each
/// with a context of up to <paramref name="SequenceContext"/> tokens (prompt + reply), all in one KV cache of
/// <paramref name="KvCacheTokens"/> tokens; while streams are generating, a decode step carries their next tokens plus a
/// prompt chunk - as many tokens as fit in <paramref name="TargetTokenGap"/> at the step cost measured so far, at least
/// <paramref name="StepTokens"/> (all of them when no target is set) and at most <see cref="MaxDecodeTokens"/> - and up
/// to <paramref name="BatchSize"/> prompt tokens when none is. An idle sequence is continued by a new prompt only when the prompt starts with at least
/// <paramref name="ReuseSimilarity"/> of the tokens it holds (<see cref="KvSequences"/>); conversations evicted from the
/// KV cache are saved in up to <paramref name="HostCacheBytes"/> of host memory (<see cref="HostKvCache"/>). A request
/// waits for KV room at most <paramref name="RoomTimeout"/>.
/// </summary>
internal sealed record BatchSettings(int Slots, int SequenceContext, int KvCacheTokens, int StepTokens, int BatchSize, TimeSpan TargetTokenGap, double ReuseSimilarity, long HostCacheBytes, TimeSpan RoomTimeout)
{
    /// <summary>
    /// The most tokens one decode carries (llama.cpp's <c>n_batch</c>): never more than the KV cache holds, since
    /// llama.cpp caps <c>n_batch</c> at its context and refuses a larger batch.
    /// </summary>
    public int MaxDecodeTokens => Math.Min(Math.Max(StepTokens, BatchSize), KvCacheTokens);

    /// <summary>Prompt tokens one decode carries while no stream is generating: <see cref="BatchSize"/>, within <see cref="MaxDecodeTokens"/>.</summary>
    public int PromptBatch => Math.Min(BatchSize, MaxDecodeTokens);

    /// <summary>The least tokens a step carries while streams generate: <see cref="StepTokens"/>, within <see cref="MaxDecodeTokens"/>.</summary>
    public int StepFloor => Math.Min(StepTokens, MaxDecodeTokens);
}
