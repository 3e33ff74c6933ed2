using System.Diagnostics.Metrics;
using LlmStack.Api.Backends.Embedded;
using LlmStack.Api.Telemetry;
using Microsoft.Extensions.DependencyInjection;

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

    [Fact]
    public async Task Queueing_is_measured_per_model()
    {
        using var services = new ServiceCollection().AddMetrics().AddSingleton<LlmStackMetrics>().BuildServiceProvider();
        var metrics = services.GetRequiredService<LlmStackMetrics>();
        var measurements = new List<(string Instrument, double Value, object? Model)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == LlmStackMetrics.MeterName)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<int>((i, v, tags, _) => Record(i, v, tags));
        listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Record(i, v, tags));
        listener.Start();
        var pool = new SlotPool(1, "qwen2.5:7b", metrics);

        var held = await pool.AcquireAsync(TestContext.Current.CancellationToken);
        var waiting = pool.AcquireAsync(TestContext.Current.CancellationToken).AsTask();
        held.Dispose();
        (await waiting.WaitAsync(Timeout, TestContext.Current.CancellationToken)).Dispose();

        lock (measurements)
        {
            Assert.Equal([1.0, -1.0], measurements.Where(m => m.Instrument == "llmstack.requests.queued").Select(m => m.Value));
            Assert.Equal(2, measurements.Count(m => m.Instrument == "llmstack.request.queue_time"));
            Assert.All(measurements, m => Assert.Equal("qwen2.5:7b", m.Model));
        }

        void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            object? model = null;
            foreach (var tag in tags)
            {
                if (tag.Key == LlmStackMetrics.RequestModel)
                {
                    model = tag.Value;
                }
            }
            lock (measurements)
            {
                measurements.Add((instrument.Name, value, model));
            }
        }
    }
}
