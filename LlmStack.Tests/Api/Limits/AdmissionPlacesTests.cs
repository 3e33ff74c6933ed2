using LlmStack.Api.Limits;
using LlmStack.Api.Telemetry;
using Microsoft.Extensions.DependencyInjection;

namespace LlmStack.Tests.Api.Limits;

/// <summary>A request of several choices (<c>n</c>) takes as many of the model's places, and waits until they are all free.</summary>
public sealed class AdmissionPlacesTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_request_of_three_places_waits_for_three_free_slots_and_holds_them_all()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var gate = new AdmissionGate("m", capacity: 4, maxQueue: 8, queueTimeout: TimeSpan.FromSeconds(60), new LlmStackMetrics(services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>()));
        var first = await gate.EnterAsync(null, Cancel);
        var second = await gate.EnterAsync(null, Cancel);

        var three = gate.EnterAsync(null, Cancel, places: 3).AsTask();
        await Task.Delay(200, Cancel);
        Assert.False(three.IsCompleted, "two of four slots are held: three places are not free");
        Assert.Equal((2, 1), (gate.Admitted, gate.Queued));

        first.Dispose();
        using var held = await three.WaitAsync(Bound, Cancel);
        Assert.Equal((4, 0), (gate.Admitted, gate.Queued));

        // Every place is held now: one more waits until one of them is given back.
        var one = gate.EnterAsync(null, Cancel).AsTask();
        await Task.Delay(200, Cancel);
        Assert.False(one.IsCompleted, "the three places and the second request hold all four slots");
        second.Dispose();
        using var admitted = await one.WaitAsync(Bound, Cancel);
        Assert.Equal(4, gate.Admitted);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => gate.EnterAsync(null, Cancel, places: 5).AsTask());
    }
}
