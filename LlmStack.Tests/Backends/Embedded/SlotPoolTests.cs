using LlmStack.Api.Backends.Embedded;

namespace LlmStack.Tests.Backends.Embedded;

public sealed class SlotPoolTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task Waiters_get_slots_in_arrival_order()
    {
        var pool = new SlotPool(1, "test");
        var held = await pool.AcquireAsync(TestContext.Current.CancellationToken);
        var order = new List<int>();
        var waiters = Enumerable.Range(0, 5).Select(async i =>
        {
            using var slot = await pool.AcquireAsync(TestContext.Current.CancellationToken);
            order.Add(i);
        }).ToList();

        held.Dispose();
        await Task.WhenAll(waiters).WaitAsync(Timeout, TestContext.Current.CancellationToken);

        Assert.Equal([0, 1, 2, 3, 4], order);
        Assert.Equal(1, pool.Free);
    }

    [Fact]
    public async Task Cancelled_waiter_is_skipped_and_never_holds_a_slot()
    {
        var pool = new SlotPool(1, "test");
        var held = await pool.AcquireAsync(TestContext.Current.CancellationToken);
        using var cancellation = new CancellationTokenSource();
        var cancelled = pool.AcquireAsync(cancellation.Token).AsTask();
        var next = pool.AcquireAsync(TestContext.Current.CancellationToken).AsTask();

        await cancellation.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled.WaitAsync(Timeout, TestContext.Current.CancellationToken));
        Assert.Equal(1, pool.Queued);
        held.Dispose();

        using var slot = await next.WaitAsync(Timeout, TestContext.Current.CancellationToken);
        Assert.Equal(0, pool.Free);
        Assert.Equal(0, pool.Queued);
    }

    [Fact]
    public async Task Disposing_a_slot_twice_releases_it_once()
    {
        var pool = new SlotPool(2, "test");
        var slot = await pool.AcquireAsync(TestContext.Current.CancellationToken);

        slot.Dispose();
        slot.Dispose();

        Assert.Equal(2, pool.Free);
    }
}
