using System.Net;
using System.Net.Sockets;
using System.Text;

namespace LlmStack.Tests.Api.Limits;

/// <summary>
/// A client that sends one request and then reads nothing of its answer, over a socket with the smallest receive
/// buffer the OS allows: what a slow or stalled reader looks like to the server once the buffers between them are full.
/// </summary>
internal sealed class NonReadingClient : IDisposable
{
    private readonly Socket _socket;

    private NonReadingClient(Socket socket) => _socket = socket;

    public static async Task<NonReadingClient> SendAsync(Uri server, string path, string body, string? key, CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 1024, NoDelay = true };
        try
        {
            await socket.ConnectAsync(IPAddress.Loopback, server.Port, cancellationToken);
            var content = Encoding.UTF8.GetBytes(body);
            var head = $"POST {path} HTTP/1.1\r\nHost: {server.Authority}\r\nContent-Type: application/json\r\nContent-Length: {content.Length}\r\nConnection: close\r\n"
                + (key is null ? "" : $"Authorization: Bearer {key}\r\n") + "\r\n";
            await socket.SendAsync(Encoding.ASCII.GetBytes(head).Concat(content).ToArray(), cancellationToken);
            return new NonReadingClient(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Starts reading at last, to the end of what the server sent: the text, and whether the connection then ended
    /// cleanly (false: the server reset it).
    /// </summary>
    public async Task<(string Text, bool Clean)> ReadToEndAsync(CancellationToken cancellationToken)
    {
        var received = new MemoryStream();
        var buffer = new byte[64 * 1024];
        try
        {
            int read;
            while ((read = await _socket.ReceiveAsync(buffer, cancellationToken)) > 0)
            {
                received.Write(buffer, 0, read);
            }
            return (Encoding.UTF8.GetString(received.ToArray()), true);
        }
        catch (SocketException)
        {
            return (Encoding.UTF8.GetString(received.ToArray()), false);
        }
    }

    public void Dispose() => _socket.Dispose();
}
