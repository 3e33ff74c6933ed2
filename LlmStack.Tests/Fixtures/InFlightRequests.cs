using System.Diagnostics.Metrics;
using LlmStack.Api.Telemetry;
using Microsoft.Extensions.DependencyInjection;

namespace LlmStack.Tests.Fixtures;

/// <summary>
/// Follows <c>llmstack.requests.active</c> of one API instance (its own meter factory, so parallel tests do not
/// mix) and wakes waiters on every change: waiting for the gauge is event-driven, not polling.
/// </summary>
internal sealed class InFlightRequests : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly SemaphoreSlim _changed = new(0);
    private int _value;

    public InFlightRequests(IServiceProvider services)
    {
        var meterFactory = services.GetRequiredService<IMeterFactory>();
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Scope == meterFactory && instrument.Meter.Name == LlmStackMetrics.MeterName && instrument.Name == "llmstack.requests.active")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<int>((_, delta, _, _) =>
        {
            Interlocked.Add(ref _value, delta);
            _changed.Release();
        });
        _listener.Start();
    }

    public int Value => Volatile.Read(ref _value);

    /// <summary>Completes when the gauge satisfies <paramref name="condition"/>; throws if it does not within <paramref name="timeout"/>.</summary>
    public async Task WaitUntilAsync(Func<int, bool> condition, TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        while (!condition(Value))
        {
            try
            {
                await _changed.WaitAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"llmstack.requests.active is still {Value} after {timeout.TotalSeconds} s.");
            }
        }
    }

    public void Dispose()
    {
        _listener.Dispose();
        _changed.Dispose();
    }
}
