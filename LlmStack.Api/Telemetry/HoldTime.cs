namespace LlmStack.Api.Telemetry;

/// <summary>
/// How long something is usually held - a model's request slot, one key's request - as an exponential moving average
/// (1/8 weight) of the times recorded; what a refusal's <c>Retry-After</c> is estimated from.
/// </summary>
internal sealed class HoldTime
{
    private long _averageTicks;

    public TimeSpan Average => TimeSpan.FromTicks(Interlocked.Read(ref _averageTicks));

    public void Record(TimeSpan held)
    {
        long current, next;
        do
        {
            current = Interlocked.Read(ref _averageTicks);
            next = current == 0 ? held.Ticks : current + ((held.Ticks - current) / 8);
        }
        while (Interlocked.CompareExchange(ref _averageTicks, next, current) != current);
    }

    /// <summary>
    /// When a retry is likely to find room: the usual hold time times <paramref name="turns"/> (how many holds must end
    /// first), in whole seconds between 1 and 60.
    /// </summary>
    public TimeSpan RetryAfter(double turns) =>
        TimeSpan.FromSeconds(Math.Clamp(Math.Ceiling((Average * turns).TotalSeconds), 1, 60));
}
