using System.Text;
using LlmStack.Api.Backends.Upstream;

namespace LlmStack.Tests.Backends.Upstream;

public sealed class StreamErrorScannerTests
{
    private const string Chunk = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Half\"}}]}\n\n";

    private static async Task<(string Passed, UpstreamStreamErrorException? Error)> ReadAsync(string body, int size)
    {
        using var scanner = new StreamErrorScanner(new TrickleStream(Encoding.UTF8.GetBytes(body), size));
        return await TrickleStream.ReadToEndAsync<UpstreamStreamErrorException>(scanner);
    }

    [Theory]
    [MemberData(nameof(TrickleStream.ReadSizes), MemberType = typeof(TrickleStream))]
    public async Task An_error_event_after_a_chunk_passes_the_chunk_on_and_then_fails_with_the_servers_message(int size)
    {
        var (passed, error) = await ReadAsync(
            Chunk + "data: {\"error\":{\"message\":\"The server is shutting down.\",\"type\":\"server_error\"}}\n\ndata: [DONE]\n\n", size);

        // What was read before the error line could be told from others is passed on; the rest of it never is, so
        // the reader holds an unfinished line, which it drops when the read fails.
        Assert.StartsWith(Chunk, passed);
        Assert.DoesNotContain('\n', passed[Chunk.Length..]);
        Assert.NotNull(error);
        Assert.Equal("The server is shutting down.", error.UpstreamMessage);
    }

    [Theory]
    [MemberData(nameof(TrickleStream.ReadSizes), MemberType = typeof(TrickleStream))]
    public async Task A_stream_without_an_error_passes_through_unchanged(int size)
    {
        // "error" inside a chunk's text, and a payload that starts like an error without being one, are not errors.
        var body = Chunk + "data: {\"choices\":[{\"delta\":{\"content\":\"{\\\"error\\\": no\"}}]}\n\n: keep-alive\n\ndata: {\"errors\":1}\n\ndata: [DONE]\n\n";

        var (passed, error) = await ReadAsync(body, size);

        Assert.Null(error);
        Assert.Equal(body, passed);
    }

    [Theory]
    [MemberData(nameof(TrickleStream.ReadSizes), MemberType = typeof(TrickleStream))]
    public async Task Vllms_older_error_object_and_an_error_that_ends_the_body_without_a_newline_fail_too(int size)
    {
        var (_, older) = await ReadAsync("data: {\"object\": \"error\", \"message\": \"CUDA out of memory\", \"type\": \"InternalServerError\"}\n\n", size);
        var (_, unterminated) = await ReadAsync(Chunk + "data:{\"error\":\"gone\"}", size);

        Assert.Equal("CUDA out of memory", older?.UpstreamMessage);
        Assert.Equal("gone", unterminated?.UpstreamMessage);
    }
}
