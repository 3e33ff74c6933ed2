using LlmStack.Api.Backends.Embedded.Hub;
using Microsoft.Extensions.Time.Testing;

namespace LlmStack.Tests.Backends.Embedded.Hub;

/// <summary>The one sentence a download is told in: how far, how fast, how long still - and no frozen speed once bytes stop.</summary>
public sealed class ModelDownloadProgressTests
{
    [Fact]
    public void Speed_and_time_left_follow_the_bytes_and_go_once_they_stop_arriving()
    {
        var time = new FakeTimeProvider();
        var progress = new ModelDownloadProgress("m", "hf://o/r:Q8_0", time);
        progress.SetFile("r/model-Q8_0.gguf", 10_000_000);
        progress.Enter(ModelFetchPhase.Downloading);
        for (var second = 0; second <= 4; second++)
        {
            progress.Report(second * 1_000_000L, 1_000_000);
            time.Advance(TimeSpan.FromSeconds(1));
        }

        Assert.Equal("downloading model-Q8_0.gguf from hf://o/r:Q8_0: 40% of 10.0 MB at 1.0 MB/s, about 6 s left", progress.Describe());

        // The connection stalls: after a few seconds without a byte, no speed is claimed.
        time.Advance(TimeSpan.FromSeconds(6));
        Assert.Equal("downloading model-Q8_0.gguf from hf://o/r:Q8_0: 40% of 10.0 MB", progress.Describe());
    }
}
