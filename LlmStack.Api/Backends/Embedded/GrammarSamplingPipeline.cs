using LLama.Native;
using LLama.Sampling;

namespace LlmStack.Api.Backends.Embedded;

/// <summary>
/// Sampling of a reply bound by a grammar (JSON mode, a JSON schema, a required tool call): the request's own
/// stages (penalties, top-k/p, min-p, temperature, seeded choice), the grammar parsed on the request thread, and
/// a token is taken only when its bytes keep the reply well-formed UTF-8 (<see cref="TokenText"/>), so what the
/// grammar accepted is exactly what a client decodes.
/// </summary>
/// <remarks>
/// As LLamaSharp's own pipeline does, the stages first choose among all tokens and the grammar checks only that
/// choice; when it does not fit, the tokens that break UTF-8 and those the grammar refuses are removed and the stages
/// choose again. Runs on the batch loop's thread.
/// </remarks>
internal sealed class GrammarSamplingPipeline(DefaultSamplingPipeline stages, ParsedGrammar grammar, TokenText text) : ISamplingPipeline
{
    private readonly LLamaTokenData[] _one = new LLamaTokenData[1];
    private LLamaTokenData[]? _all;
    private int _utf8 = Utf8State.Clean;

    public LLamaToken Sample(SafeLLamaContextHandle ctx, int index)
    {
        var logits = ctx.GetLogitsIth(index);
        var all = _all ??= new LLamaTokenData[logits.Length];
        Fill(all, logits);
        using (LLamaTokenDataArrayNative.Create(new LLamaTokenDataArray(all), out var candidates))
        {
            stages.Apply(ctx, ref candidates);
            var choice = candidates.Data[checked((int)candidates.Selected)].ID;
            if (text.Allows(_utf8, (int)choice) && GrammarAllows(choice))
            {
                Accept(choice);
                return choice;
            }
        }

        Fill(all, logits);
        text.Mask(_utf8, all);
        using (LLamaTokenDataArrayNative.Create(new LLamaTokenDataArray(all), out var candidates))
        {
            grammar.Sampler.Apply(ref candidates);
            stages.Apply(ctx, ref candidates);
            var chosen = candidates.Data[checked((int)candidates.Selected)];
            if (float.IsNegativeInfinity(chosen.Logit) || !text.Allows(_utf8, (int)chosen.ID))
            {
                throw new InvalidOperationException("No token of the model fits the request's grammar here.");
            }
            Accept(chosen.ID);
            return chosen.ID;
        }
    }

    public void Apply(SafeLLamaContextHandle ctx, LLamaTokenDataArray data)
    {
        text.Mask(_utf8, data.Data.Span);
        using (LLamaTokenDataArrayNative.Create(data, out var candidates))
        {
            grammar.Sampler.Apply(ref candidates);
            stages.Apply(ctx, ref candidates);
        }
    }

    public void Accept(LLamaToken token)
    {
        stages.Accept(token);
        grammar.Sampler.Accept(token);
        _utf8 = text.Advance(_utf8, (int)token);
    }

    public void Reset()
    {
        stages.Reset();
        grammar.Sampler.Reset();
        _utf8 = Utf8State.Clean;
    }

    public void Dispose()
    {
        stages.Dispose();
        grammar.Dispose();
    }

    private bool GrammarAllows(LLamaToken token)
    {
        _one[0] = new LLamaTokenData(token, 1, 0);
        using (LLamaTokenDataArrayNative.Create(new LLamaTokenDataArray(_one, true), out var single))
        {
            grammar.Sampler.Apply(ref single);
            return !float.IsNegativeInfinity(single.Data[0].Logit);
        }
    }

    private static void Fill(LLamaTokenData[] all, ReadOnlySpan<float> logits)
    {
        for (var token = 0; token < all.Length; token++)
        {
            all[token] = new LLamaTokenData(token, logits[token], 0);
        }
    }
}
