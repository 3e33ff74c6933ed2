using System.IO.Pipelines;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using LlmStack.Api.Backends.Ollama;
using LlmStack.Api.Backends.Upstream;
using LlmStack.Tests.Fixtures;
using OllamaSharp;

namespace LlmStack.Tests.Backends.Ollama;

/// <summary>The Ollama body as OllamaSharp reads it, in reads of any size: error lines, logprobs, the call's token.</summary>
public sealed class OllamaErrorLineStreamTests
{
    private const string Failure = "an error was encountered while running the model: unexpected EOF";

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public static TheoryData<int, bool> ReadSizesWithAndWithoutLogprobs =>
        [.. TrickleStream.ReadSizes.SelectMany(size => new[] { (size, false), (size, true) })];

    // A streamed chat line as Ollama writes it, with its token's logprobs.
    private static string Line(string token, int index) => new JsonObject
    {
        ["model"] = "m",
        ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = token },
        ["done"] = false,
        ["logprobs"] = new JsonArray(OllamaTestServer.LogprobOf(token, index, top: 2)),
    }.ToJsonString() + "\n";

    private static LogprobsChatRequest Logprobs()
    {
        using var client = new OllamaApiClient(new Uri("http://127.0.0.1:1/"));
        return new LogprobsChatRequest(2, client.IncomingJsonSerializerOptions);
    }

    private static OllamaServerClient.ErrorLineStream Body(string body, int size, LogprobsChatRequest? lines = null) =>
        new(new TrickleStream(Encoding.UTF8.GetBytes(body), size), CancellationToken.None, lines);

    [Theory]
    [MemberData(nameof(ReadSizesWithAndWithoutLogprobs))]
    public async Task An_error_line_ends_the_body_with_ollamas_message_after_the_lines_before_it(int size, bool logprobs)
    {
        var upToError = Line("Half", 0) + "{\"error\":\"" + Failure + "\"}\n";
        using var stream = Body(upToError + Line("never", 1), size, logprobs ? Logprobs() : null);

        var (passed, error) = await TrickleStream.ReadToEndAsync<UpstreamHttpException>(stream);

        Assert.Equal(HttpStatusCode.InternalServerError, error?.StatusCode);
        Assert.Equal(Failure, error?.UpstreamMessage);
        // Every line before the error reaches OllamaSharp, whatever the reads; the error line's \n and what follows never do.
        Assert.StartsWith(Line("Half", 0), passed);
        Assert.StartsWith(passed, upToError);
        Assert.True(passed.Length < upToError.Length);
    }

    [Theory]
    [MemberData(nameof(ReadSizesWithAndWithoutLogprobs))]
    public async Task An_error_line_that_ends_the_body_without_its_newline_fails_too(int size, bool logprobs)
    {
        using var stream = Body(Line("Half", 0) + "{\"error\":\"gone\"}", size, logprobs ? Logprobs() : null);

        var (_, error) = await TrickleStream.ReadToEndAsync<UpstreamHttpException>(stream);

        Assert.Equal("gone", error?.UpstreamMessage);
    }

    [Theory]
    [MemberData(nameof(ReadSizesWithAndWithoutLogprobs))]
    public async Task Lines_that_only_look_like_errors_pass_through_unchanged(int size, bool logprobs)
    {
        var body = " {\"error\":\"indented\"}\n{\"errors\":1}\n" + Line("{\"error\": no", 0) + "{\"err";
        using var stream = Body(body, size, logprobs ? Logprobs() : null);

        var (passed, error) = await TrickleStream.ReadToEndAsync<UpstreamHttpException>(stream);

        Assert.Null(error);
        Assert.Equal(body, passed);
    }

    [Theory]
    [MemberData(nameof(TrickleStream.ReadSizes), MemberType = typeof(TrickleStream))]
    public async Task Each_line_leaves_its_logprobs_in_order_the_last_one_without_its_newline(int size)
    {
        var tokens = new[] { "Hello", new string('y', 5000), "end" };
        var body = Line(tokens[0], 0) + Line(tokens[1], 1) + Line(tokens[2], 2).TrimEnd('\n');
        var request = Logprobs();
        using var stream = Body(body, size, request);

        var (passed, error) = await TrickleStream.ReadToEndAsync<UpstreamHttpException>(stream);

        Assert.Null(error);
        Assert.Equal(body, passed);
        Assert.Equal(tokens, tokens.Select(_ => Assert.Single(request.Next()).Token));
        Assert.Empty(request.Next());
    }

    [Fact]
    public async Task A_read_without_a_token_is_canceled_with_the_call_and_a_read_with_one_by_its_own()
    {
        using var call = new CancellationTokenSource();
        using var read = new CancellationTokenSource();
        using var withoutToken = new OllamaServerClient.ErrorLineStream(new Pipe().Reader.AsStream(), call.Token);
        using var withToken = new OllamaServerClient.ErrorLineStream(new Pipe().Reader.AsStream(), call.Token);

        var waiting = withoutToken.ReadAsync(new byte[64], CancellationToken.None).AsTask();
        var ownWaiting = withToken.ReadAsync(new byte[64], read.Token).AsTask();
        call.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WaitAsync(TimeSpan.FromSeconds(5), Token));
        Assert.False(ownWaiting.IsCompleted);
        read.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => ownWaiting.WaitAsync(TimeSpan.FromSeconds(5), Token));
    }
}
