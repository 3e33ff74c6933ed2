using System.Globalization;

namespace LlmStack.Api.Backends.Embedded.Hub;

/// <summary>Where a hub model is on its way to being served.</summary>
internal enum ModelFetchPhase
{
    Resolving,
    WaitingForAnotherProcess,
    Downloading,
    Retrying,
    Verifying,
    Loading,
    Ready,
    Failed,
}

/// <summary>
/// The state of one hub model from its first request to the hub until it is loaded (or has failed), written by
/// its downloader and read wherever people look: the 503 <c>model_loading</c> message, <c>/readyz</c>, the log
/// and the download metrics. <see cref="Describe"/> is the one wording of it.
/// </summary>
internal sealed class ModelDownloadProgress(string model, string source, TimeProvider time)
{
    // The speed is measured over the last few seconds, so that it follows a changing network.
    private static readonly TimeSpan RateWindow = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan SampleEvery = TimeSpan.FromMilliseconds(100);

    private readonly Lock _lock = new();
    private readonly Queue<(long Ticks, long Bytes)> _samples = new();
    private ModelFetchPhase _phase = ModelFetchPhase.Resolving;
    private string? _file;
    private long _total;
    private long _done;
    private long _fetched;
    private string? _detail;
    private DateTimeOffset? _retryAt;

    public string Model { get; } = model;

    /// <summary>The configured source, as written (<c>hf://...</c>).</summary>
    public string Source { get; } = source;

    public ModelFetchPhase Phase
    {
        get
        {
            lock (_lock)
            {
                return _phase;
            }
        }
    }

    /// <summary>Bytes of the file present so far (resumed bytes included).</summary>
    public long DoneBytes => Interlocked.Read(ref _done);

    /// <summary>The file's size; 0 until the hub has told it.</summary>
    public long TotalBytes => Interlocked.Read(ref _total);

    /// <summary>Bytes this process fetched from the network for it (re-fetched ones counted again).</summary>
    public long FetchedBytes => Interlocked.Read(ref _fetched);

    /// <summary>Why it failed, when <see cref="Phase"/> is <see cref="ModelFetchPhase.Failed"/>.</summary>
    public string? Failure
    {
        get
        {
            lock (_lock)
            {
                return _phase == ModelFetchPhase.Failed ? _detail : null;
            }
        }
    }

    /// <summary>Percent of the file present, when its size is known.</summary>
    public int? Percent => TotalBytes > 0 ? (int)Math.Min(100, 100 * DoneBytes / TotalBytes) : null;

    public void Enter(ModelFetchPhase phase, string? detail = null, DateTimeOffset? retryAt = null)
    {
        lock (_lock)
        {
            _phase = phase;
            _detail = detail;
            _retryAt = retryAt;
            if (phase is ModelFetchPhase.Downloading or ModelFetchPhase.WaitingForAnotherProcess)
            {
                _samples.Clear();
            }
        }
    }

    public void SetFile(string path, long size)
    {
        lock (_lock)
        {
            _file = path;
        }
        Interlocked.Exchange(ref _total, size);
    }

    /// <summary>The file now has <paramref name="done"/> bytes, <paramref name="fetched"/> of them just fetched.</summary>
    public void Report(long done, long fetched = 0)
    {
        Interlocked.Exchange(ref _done, done);
        if (fetched > 0)
        {
            Interlocked.Add(ref _fetched, fetched);
        }
        var now = time.GetTimestamp();
        lock (_lock)
        {
            if (_samples.Count > 0 && time.GetElapsedTime(_samples.Last().Ticks, now) < SampleEvery)
            {
                return;
            }
            _samples.Enqueue((now, done));
            while (_samples.Count > 2 && time.GetElapsedTime(_samples.Peek().Ticks, now) > RateWindow)
            {
                _samples.Dequeue();
            }
        }
    }

    /// <summary>Bytes per second over the last few seconds; null before there are two samples, and once nothing has arrived for as long.</summary>
    public double? BytesPerSecond
    {
        get
        {
            lock (_lock)
            {
                if (_samples.Count < 2)
                {
                    return null;
                }
                var (firstTicks, firstBytes) = _samples.Peek();
                var (lastTicks, lastBytes) = _samples.Last();
                if (time.GetElapsedTime(lastTicks) > RateWindow)
                {
                    // Nothing arrived for a while (a stalled connection, a held transfer): no speed and no time left is
                    // better than the last one's, frozen.
                    return null;
                }
                var seconds = time.GetElapsedTime(firstTicks, lastTicks).TotalSeconds;
                return seconds > 0 ? Math.Max(0, lastBytes - firstBytes) / seconds : null;
            }
        }
    }

    /// <summary>Time left at the current speed; null when unknown.</summary>
    public TimeSpan? Remaining => BytesPerSecond is { } rate && rate > 0 && TotalBytes > 0
        ? TimeSpan.FromSeconds(Math.Max(0, TotalBytes - DoneBytes) / rate)
        : null;

    /// <summary>One sentence a person reads: what is happening, how far it is, how long it may take.</summary>
    public string Describe()
    {
        ModelFetchPhase phase;
        string? file, detail;
        DateTimeOffset? retryAt;
        lock (_lock)
        {
            (phase, file, detail, retryAt) = (_phase, _file, _detail, _retryAt);
        }
        var name = file is null ? Source : Path.GetFileName(file);
        var amount = TotalBytes > 0 ? $"{Percent}% of {FormatBytes(TotalBytes)}" : "";
        return phase switch
        {
            ModelFetchPhase.Resolving => $"asking the hub for {Source}",
            ModelFetchPhase.WaitingForAnotherProcess =>
                $"another process is downloading {name} into the cache ({amount}); waiting for it{Speed()}",
            ModelFetchPhase.Downloading => $"downloading {name} from {Source}: {amount}{Speed()}",
            ModelFetchPhase.Retrying =>
                $"downloading {name} from {Source}: {amount}; retrying{(retryAt is { } at ? $" in {Seconds(at - time.GetUtcNow())}" : "")} after: {detail}",
            ModelFetchPhase.Verifying => $"verifying {name} ({FormatBytes(TotalBytes)}, SHA-256)",
            ModelFetchPhase.Loading => $"loading {name} ({FormatBytes(TotalBytes)}) into memory",
            ModelFetchPhase.Ready => $"{name} loaded",
            _ => $"could not be brought up: {detail}",
        };
    }

    private string Speed() => BytesPerSecond is { } rate
        ? $" at {FormatBytes((long)rate)}/s{(Remaining is { } left ? $", about {Seconds(left)} left" : "")}"
        : "";

    private static string Seconds(TimeSpan span) => span.TotalSeconds switch
    {
        < 1 => "1 s",
        < 120 => $"{Math.Ceiling(span.TotalSeconds):0} s",
        < 7200 => $"{Math.Ceiling(span.TotalMinutes):0} min",
        _ => $"{span.TotalHours:0.0} h",
    };

    /// <summary>Sizes as people read them: 512 KB, 42.0 MB, 4.68 GB (decimal units, as the hub shows them).</summary>
    public static string FormatBytes(long bytes) => bytes switch
    {
        < 1_000_000 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1e3:0} KB"),
        < 1_000_000_000 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1e6:0.0} MB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1e9:0.00} GB"),
    };
}
