using System.Text;
using LLama;
using LLama.Native;

namespace LlmStack.Api.Backends.Embedded.Batching;

/// <summary>
/// Log probabilities of a sampled token from the model's own distribution at its position: the log-softmax of the
/// raw logits, before penalties, temperature, top-k/p, min-p and any grammar (what OpenAI and vLLM report), so they
/// do not depend on the request's sampling settings.
/// </summary>
internal static class TokenDistribution
{
    public static TokenLogprob Of(ReadOnlySpan<float> logits, LLamaToken chosen, int top, LLamaWeights weights)
    {
        var max = float.NegativeInfinity;
        foreach (var logit in logits)
        {
            max = Math.Max(max, logit);
        }
        var sum = 0.0;
        foreach (var logit in logits)
        {
            sum += Math.Exp(logit - max);
        }
        var logSum = max + Math.Log(sum);

        // The top few by a partial insertion sort: top is at most 20, the vocabulary up to ~150k.
        var best = new List<int>(top + 1);
        for (var token = 0; token < logits.Length && top > 0; token++)
        {
            if (best.Count == top && logits[token] <= logits[best[^1]])
            {
                continue;
            }
            var at = best.Count;
            while (at > 0 && logits[best[at - 1]] < logits[token])
            {
                at--;
            }
            best.Insert(at, token);
            if (best.Count > top)
            {
                best.RemoveAt(top);
            }
        }

        var alternatives = new List<TopLogprob>(best.Count);
        foreach (var token in best)
        {
            var piece = Piece(weights, (LLamaToken)token);
            alternatives.Add(new TopLogprob(Text(piece), piece, logits[token] - logSum));
        }
        var bytes = Piece(weights, chosen);
        return new TokenLogprob(Text(bytes), bytes, logits[(int)chosen] - logSum, alternatives);
    }

    // Control tokens are written by name (<|im_end|>): an alternative a client reads should say what it is.
    private static byte[] Piece(LLamaWeights weights, LLamaToken token)
    {
        Span<byte> buffer = stackalloc byte[256];
        var written = weights.NativeHandle.TokenToSpan(token, buffer, 0, true);
        return buffer[..(int)Math.Min(written, (uint)buffer.Length)].ToArray();
    }

    private static string Text(byte[] bytes) => Encoding.UTF8.GetString(bytes);
}
