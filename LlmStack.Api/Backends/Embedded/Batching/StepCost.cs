namespace LlmStack.Api.Backends.Embedded.Batching;

/// <summary>
/// What a decode step costs on this machine, learnt from the steps run: a fixed part (on a CPU, reading the weights
/// once) plus a part per token carried (compute), fitted to the recent times of steps of each size. The scheduler
/// asks it how many tokens a step can carry within the target gap between a stream's tokens. Owned by the loop thread.
/// </summary>
/// <remarks>
/// Steps are kept in buckets by size (1, 2-3, 4-7, ... tokens), each a moving average of its recent steps, so that the
/// fit keeps what prompt-carrying steps cost while streams decode alone for a long time; a line through the buckets
/// is the model. Until two sizes have been seen there is no model; when the line does not rise (the per-token part is
/// lost in noise), the step cost is taken as flat.
/// </remarks>
internal sealed class StepCost
{
    // Weight of the newest step in its bucket's average: a few steps follow a change in load.
    private const double Smoothing = 0.25;

    private readonly (double Tokens, double Seconds)?[] _buckets = new (double, double)?[31];

    /// <summary>A step of <paramref name="tokens"/> tokens took <paramref name="elapsed"/>.</summary>
    public void Record(int tokens, TimeSpan elapsed)
    {
        if (tokens < 1)
        {
            return;
        }
        var index = (int)Math.Log2(tokens);
        var seconds = elapsed.TotalSeconds;
        _buckets[index] = _buckets[index] is var (t, s)
            ? (t + Smoothing * (tokens - t), s + Smoothing * (seconds - s))
            : (tokens, seconds);
    }

    /// <summary>The most tokens a step can carry within <paramref name="target"/>; null until the model has two sizes to go by.</summary>
    public int? TokensWithin(TimeSpan target)
    {
        double n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
        foreach (var bucket in _buckets)
        {
            if (bucket is var (x, y))
            {
                n++;
                sx += x;
                sy += y;
                sxx += x * x;
                sxy += x * y;
            }
        }
        var spread = n * sxx - sx * sx;
        if (n < 2 || spread <= 0)
        {
            return null;
        }
        var perToken = (n * sxy - sx * sy) / spread;
        if (perToken <= 0)
        {
            // Bigger steps did not cost measurably more (a tiny model, or noise larger than the per-token part): a step
            // costs its mean whatever it carries, so it fits any number of tokens if that mean is within the target.
            return sy / n <= target.TotalSeconds ? int.MaxValue : 0;
        }
        var fixedPart = Math.Max(0, (sy - perToken * sx) / n);
        return (int)Math.Clamp((target.TotalSeconds - fixedPart) / perToken, 0, int.MaxValue);
    }
}
