using System.Text;
using LlmStack.Api.Backends;

namespace LlmStack.Tests.Backends;

public sealed class LineScanningStreamTests
{
    public static TheoryData<int, bool> ReadSizesBothWays =>
        [.. TrickleStream.ReadSizes.SelectMany(size => new[] { (size, false), (size, true) })];

    [Theory]
    [MemberData(nameof(ReadSizesBothWays))]
    public async Task Lines_asked_for_are_seen_whole_at_any_read_size_and_every_byte_passes_unchanged(int size, bool sync)
    {
        // Lines longer than a read, an empty line, a \r kept, a line too short to tell, a last line without its \n.
        var longKept = "keep " + new string('y', 5000) + "\r";
        var body = "keep one\nskip " + new string('x', 5000) + "\n\n" + longKept + "\nkee\nkeep last";
        using var watcher = new Watcher(new TrickleStream(Encoding.UTF8.GetBytes(body), size));

        var (passed, error) = await TrickleStream.ReadToEndAsync<Exception>(watcher, sync);

        Assert.Null(error);
        Assert.Equal(body, passed);
        Assert.Equal(["keep one", longKept, "keep last"], watcher.Seen);
    }

    [Theory]
    [MemberData(nameof(TrickleStream.ReadSizes), MemberType = typeof(TrickleStream))]
    public async Task A_line_asked_for_is_seen_up_to_the_cap_and_passes_whole(int size)
    {
        var body = "keep " + new string('z', 100) + "\nkeep short\nkeep" + new string('w', 50);
        using var watcher = new Watcher(new TrickleStream(Encoding.UTF8.GetBytes(body), size), maxLineBytes: 16);

        var (passed, error) = await TrickleStream.ReadToEndAsync<Exception>(watcher);

        Assert.Null(error);
        Assert.Equal(body, passed);
        Assert.Equal(["keep zzzzzzzzzzz", "keep short", "keepwwwwwwwwwwww"], watcher.Seen);
    }

    [Theory]
    [MemberData(nameof(TrickleStream.ReadSizes), MemberType = typeof(TrickleStream))]
    public async Task A_returned_exception_ends_the_body_before_its_line_and_every_later_read_throws_it(int size)
    {
        const string before = "keep a\nskip b\n";
        using var watcher = new Watcher(new TrickleStream(Encoding.UTF8.GetBytes(before + "stop here\nkeep c\n"), size));

        var (passed, error) = await TrickleStream.ReadToEndAsync<InvalidDataException>(watcher);

        // The lines before it pass, and of its own line only what came in earlier reads, never its \n.
        Assert.StartsWith(before, passed);
        Assert.StartsWith(passed[before.Length..], "stop here");
        Assert.Equal("stop here", error?.Message);
        Assert.Equal(["keep a", "stop here"], watcher.Seen);
        Assert.Same(error, await Assert.ThrowsAsync<InvalidDataException>(() => watcher.ReadAsync(new byte[64], TestContext.Current.CancellationToken).AsTask()));
    }

    [Theory]
    [MemberData(nameof(TrickleStream.ReadSizes), MemberType = typeof(TrickleStream))]
    public async Task A_thrown_exception_fails_the_read_that_completes_its_line_and_every_later_one(int size)
    {
        const string body = "keep a\nfail now\nkeep c\n";
        using var watcher = new Watcher(new TrickleStream(Encoding.UTF8.GetBytes(body), size));

        var (passed, error) = await TrickleStream.ReadToEndAsync<IOException>(watcher);

        Assert.StartsWith(passed, body);
        Assert.True(passed.Length < "keep a\nfail now\n".Length, passed);
        Assert.Equal("fail now", error?.Message);
        Assert.Equal(["keep a", "fail now"], watcher.Seen);
        Assert.Same(error, Assert.Throws<IOException>(() => watcher.Read(new byte[64], 0, 64)));
    }

    [Fact]
    public async Task A_read_into_an_empty_buffer_is_not_the_end_of_the_body()
    {
        using var watcher = new Watcher(new TrickleStream(Encoding.UTF8.GetBytes("keep last"), 4));
        var token = TestContext.Current.CancellationToken;

        Assert.Equal(4, await watcher.ReadAsync(new byte[64], token));
        Assert.Equal(0, await watcher.ReadAsync(Memory<byte>.Empty, token));
        Assert.Empty(watcher.Seen);
        var (rest, _) = await TrickleStream.ReadToEndAsync<Exception>(watcher);

        Assert.Equal(" last", rest);
        Assert.Equal(["keep last"], watcher.Seen);
    }

    // Asks for the lines that start with "keep", "stop" or "fail"; "stop" ends the body there, "fail" throws.
    private sealed class Watcher(Stream inner, int maxLineBytes = int.MaxValue) : LineScanningStream(inner, maxLineBytes)
    {
        private static readonly byte[][] Starts = [.. new[] { "keep", "stop", "fail" }.Select(Encoding.UTF8.GetBytes)];

        public List<string> Seen { get; } = [];

        protected override bool? WantsLine(ReadOnlySpan<byte> start)
        {
            bool? wanted = false;
            foreach (var word in Starts)
            {
                if (start.StartsWith(word))
                {
                    return true;
                }
                if (word.AsSpan().StartsWith(start))
                {
                    wanted = null;
                }
            }
            return wanted;
        }

        protected override Exception? OnLine(ReadOnlySpan<byte> line)
        {
            var text = Encoding.UTF8.GetString(line);
            Seen.Add(text);
            return text.StartsWith("stop", StringComparison.Ordinal) ? new InvalidDataException(text)
                : text.StartsWith("fail", StringComparison.Ordinal) ? throw new IOException(text)
                : null;
        }
    }
}
