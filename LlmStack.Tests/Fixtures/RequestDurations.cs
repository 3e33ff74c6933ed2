using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using LlmStack.Api.Telemetry;
using Microsoft.Extensions.DependencyInjection;

namespace LlmStack.Tests.Fixtures;

/// <summary>
/// Every <c>gen_ai.server.request.duration</c> one API instance records (its own meter factory, so parallel tests do not
/// mix), with the attributes a dashboard groups by: for what <c>/metrics</c> cannot show, such as a draining server's refusals.
/// </summary>
internal sealed class RequestDurations : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentQueue<Duration> _recorded = new();
    private readonly SemaphoreSlim _changed = new(0);

    public RequestDurations(IServiceProvider services)
    {
        var meterFactory = services.GetRequiredService<IMeterFactory>();
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Scope == meterFactory && instrument.Meter.Name == LlmStackMetrics.MeterName && instrument.Name == "gen_ai.server.request.duration")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<double>((_, _, tags, _) =>
        {
            string? model = null, operation = null, errorType = null;
            foreach (var tag in tags)
            {
                switch (tag.Key)
                {
                    case LlmStackMetrics.RequestModel: model = tag.Value?.ToString(); break;
                    case LlmStackMetrics.OperationName: operation = tag.Value?.ToString(); break;
                    case LlmStackMetrics.ErrorType: errorType = tag.Value?.ToString(); break;
                }
            }
            _recorded.Enqueue(new Duration(model, operation, errorType));
            _changed.Release();
        });
        _listener.Start();
    }

    /// <summary>One recorded request: its <c>gen_ai.request.model</c>, <c>gen_ai.operation.name</c> and <c>error.type</c>.</summary>
    public sealed record Duration(string? Model, string? Operation, string? ErrorType);

    public IReadOnlyList<Duration> Recorded => [.. _recorded];

    /// <summary>Completes when what was recorded satisfies <paramref name="condition"/>; fails if it does not within <paramref name="timeout"/>.</summary>
    public async Task WaitUntilAsync(Func<IReadOnlyList<Duration>, bool> condition, TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        while (!condition(Recorded))
        {
            try
            {
                await _changed.WaitAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"gen_ai.server.request.duration recorded {string.Join(", ", Recorded)} in {timeout.TotalSeconds} s.");
            }
        }
    }

    public void Dispose()
    {
        _listener.Dispose();
        _changed.Dispose();
    }
}
