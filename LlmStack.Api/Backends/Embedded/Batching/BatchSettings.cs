namespace LlmStack.Api.Backends.Embedded.Batching;

/// <summary>
/// How a <see cref="BatchScheduler"/> shares its model: <paramref name="Slots"/> sequences generate at once, each
/// with a context of up to <paramref name="SequenceContext"/> tokens (prompt + reply), all in one KV cache of
/// <paramref name="KvCacheTokens"/> tokens; a decode step carries at most <paramref name="StepTokens"/> tokens while
/// streams are generating (their next tokens plus a prompt chunk), and up to <paramref name="BatchSize"/> prompt
/// tokens when none is. An idle sequence is continued by a new prompt only when the prompt starts with at least
/// <paramref name="ReuseSimilarity"/> of the tokens it holds (<see cref="KvSequences"/>); conversations evicted from the
/// KV cache are saved in up to <paramref name="HostCacheBytes"/> of host memory (<see cref="HostKvCache"/>). A request
/// waits for KV room at most <paramref name="RoomTimeout"/>.
/// </summary>
internal sealed record BatchSettings(int Slots, int SequenceContext, int KvCacheTokens, int StepTokens, int BatchSize, double ReuseSimilarity, long HostCacheBytes, TimeSpan RoomTimeout)
{
    /// <summary>The most tokens one decode carries (llama.cpp's <c>n_batch</c>).</summary>
    public int MaxDecodeTokens => Math.Max(StepTokens, BatchSize);
}
