using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace LlmStack.Tests.Fixtures;

/// <summary>A logger provider that keeps every entry with its structured state; waiting for an entry is event-driven.</summary>
public sealed class CapturedLogs : ILoggerProvider
{
    private readonly SemaphoreSlim _logged = new(0);

    public ConcurrentQueue<LogEntry> Entries { get; } = new();

    /// <summary>The first entry of <paramref name="category"/>; fails the test if none comes within <paramref name="timeout"/>.</summary>
    public async Task<LogEntry> WaitForAsync(string category, TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        while (true)
        {
            if (Entries.FirstOrDefault(e => e.Category == category) is { } entry)
            {
                return entry;
            }
            try
            {
                await _logged.WaitAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"No {category} log entry within {timeout.TotalSeconds} s.");
            }
        }
    }

    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, this);

    public void Dispose() => _logged.Dispose();

    private sealed class Logger(string category, CapturedLogs logs) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var values = state as IEnumerable<KeyValuePair<string, object?>> ?? [];
            logs.Entries.Enqueue(new LogEntry(category, formatter(state, exception) + exception, values.ToDictionary(kv => kv.Key, kv => kv.Value)));
            logs._logged.Release();
        }
    }
}

public sealed record LogEntry(string Category, string Message, IReadOnlyDictionary<string, object?> State);
