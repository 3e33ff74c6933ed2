using System.Diagnostics;
using LLama;
using LLama.Common;
using LLama.Extensions;
using LLama.Native;

namespace LlmStack.Benchmarks.Hosting;

/// <summary>
/// llama.cpp on its own, no API and no HTTP: B sequences in one context, their prompts decoded together, then one
/// <c>llama_decode</c> per step carrying one token of each - the ceiling continuous batching can reach on this
/// machine and file. Greedy argmax per sequence, so a sampling cost is in the figure like in the API's.
/// </summary>
public static class RawBatchedDecode
{
    /// <summary>Aggregate output tokens/s of <paramref name="sequences"/> sequences generating <paramref name="steps"/> tokens each.</summary>
    /// <returns>
    /// Over the decode steps only, and over the whole work of the same requests (prompts included, as the API's
    /// aggregate counts it).
    /// </returns>
    public static (double DecodeOnly, double WithPrompts) Measure(string path, int sequences, int promptTokens, int steps, int threads)
    {
        var parameters = new ModelParams(path)
        {
            ContextSize = (uint)(sequences * (promptTokens + steps + 16)),
            SeqMax = (uint)sequences,
            BatchSize = (uint)Math.Max(512, sequences * promptTokens),
            UBatchSize = 512,
            Threads = threads,
            BatchThreads = threads,
        };
        using var weights = LLamaWeights.LoadFromFile(parameters);
        // The same kind of context as the API's scheduler: one KV cache shared by the sequences.
        parameters.ToLlamaContextParams(out var native);
        native.kv_unified = true;
        using var context = SafeLLamaContextHandle.Create(weights.NativeHandle, native);
        var vocabulary = weights.Vocab.Count;
        var batch = new LLamaBatch();
        var random = new Random(7);
        for (var s = 0; s < sequences; s++)
        {
            var prompt = Enumerable.Range(0, promptTokens).Select(_ => (LLamaToken)random.Next(1000, 20_000)).ToArray();
            batch.AddRange(prompt, 0, (LLamaSeqId)s, logitsLast: true);
        }
        var whole = Stopwatch.StartNew();
        Check(context.Decode(batch));

        var position = promptTokens;
        var clock = new Stopwatch();
        for (var step = 0; step < steps; step++)
        {
            // The first step's logits come from the prompts; the decode-only clock runs from the second.
            if (step == 1)
            {
                clock.Start();
            }
            var next = new LLamaToken[sequences];
            for (var s = 0; s < sequences; s++)
            {
                // After the prompts, sequence s's logits are at its last prompt token; after a step, at its own token.
                next[s] = ArgMax(context.GetLogitsIth(step == 0 ? (s + 1) * promptTokens - 1 : s), vocabulary);
            }
            batch.Clear();
            for (var s = 0; s < sequences; s++)
            {
                batch.Add(next[s], position, (LLamaSeqId)s, logits: true);
            }
            Check(context.Decode(batch));
            position++;
        }
        return (sequences * (steps - 1) / clock.Elapsed.TotalSeconds, sequences * steps / whole.Elapsed.TotalSeconds);
    }

    private static LLamaToken ArgMax(Span<float> logits, int vocabulary)
    {
        var best = 0;
        for (var i = 1; i < vocabulary; i++)
        {
            if (logits[i] > logits[best])
            {
                best = i;
            }
        }
        return best;
    }

    private static void Check(DecodeResult result)
    {
        if (result != DecodeResult.Ok)
        {
            throw new BenchmarkException($"llama.cpp failed to decode: {result}.");
        }
    }
}
