using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;

namespace LlmStack.Benchmarks.Soak;

/// <summary>
/// The soak's greedy key: it opens long streams, many at once, and stops reading them - a socket with a small receive
/// buffer, nothing read for longer than the API's <c>StreamWriteTimeout</c> - the way a client that would hold the
/// model's slots forever does. It is owed: its streams cut by the write timeout (a <c>stream_write_timeout</c> error
/// event, or the connection closed once the API could not write that either), 429 beyond its
/// <c>MaxConcurrentRequests</c>, 503 when the model is overloaded.
/// </summary>
public sealed class GreedyClient : IDisposable
{
    public const string Kind = "greedy";

    private readonly HttpClient _http;
    private readonly byte[] _body;
    private readonly string _key;
    private readonly TimeSpan _stall;
    private readonly SoakTally _tally;

    /// <param name="stall">How long it reads nothing after a stream's headers: more than the API's write timeout.</param>
    public GreedyClient(Uri baseAddress, string model, string key, TimeSpan stall, SoakTally tally)
    {
        _http = new HttpClient(new SocketsHttpHandler
        {
            MaxConnectionsPerServer = 1024,
            ConnectCallback = async (context, cancellationToken) =>
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096, NoDelay = true };
                try
                {
                    await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        })
        {
            BaseAddress = baseAddress,
            Timeout = TimeSpan.FromSeconds(120),
        };
        _body = Encoding.UTF8.GetBytes(
            $$"""{"model":"{{model}}","stream":true,"max_tokens":4000,"messages":[{"role":"user","content":"Tell me a long story."}]}""");
        (_key, _stall, _tally) = (key, stall, tally);
    }

    /// <summary>Opens one stream and stalls it, then reads what is left; counts the outcome and returns it.</summary>
    public Task<string> RunOneAsync(CancellationToken cancellationToken) =>
        SoakClient.CountAsync(_tally, Kind, () => ExchangeAsync(cancellationToken), cancellationToken);

    private async Task<string> ExchangeAsync(CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new ByteArrayContent(_body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _key);
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        if (response.Content.Headers.ContentType?.MediaType != "text/event-stream")
        {
            return await SoakClient.OutcomeOfAsync(response, cancellationToken);
        }
        await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
        // Reads nothing: the API must cut this stream and free its slot, not wait for it.
        await Task.Delay(_stall, cancellationToken);
        using var reader = new StreamReader(body);
        string? last = null, beforeLast = null;
        try
        {
            while (await reader.ReadLineAsync(cancellationToken) is { } line)
            {
                if (line.StartsWith("data: ", StringComparison.Ordinal))
                {
                    (beforeLast, last) = (last, line);
                }
            }
        }
        catch (IOException)
        {
            // The API closed the connection after the cut, when even the error event found no room.
            return "write timeout (closed)";
        }
        return !StreamEnd.Completed("/v1/chat/completions", null, last) ? "stream cut"
            : beforeLast?.Contains("\"stream_write_timeout\"", StringComparison.Ordinal) == true ? "write timeout"
            : "200";
    }

    public void Dispose() => _http.Dispose();
}
