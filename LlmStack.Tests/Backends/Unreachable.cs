using System.Net;
using System.Net.Sockets;

namespace LlmStack.Tests.Backends;

/// <summary>Loopback addresses where no backend answers, in the two ways a real one fails to.</summary>
public static class Unreachable
{
    /// <summary>A port nothing listens on: connections are refused at once.</summary>
    public static Uri RefusingEndpoint()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return new Uri($"http://127.0.0.1:{((IPEndPoint)socket.LocalEndPoint!).Port}/");
    }

    /// <summary>
    /// A listener whose accept queue is full, so that new connections are never established - what a
    /// firewalled or wedged host looks like. Dispose to release it.
    /// </summary>
    public sealed class SilentListener : IDisposable
    {
        private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        private readonly List<Socket> _queued = [];

        private SilentListener()
        {
        }

        public Uri Endpoint { get; private set; } = null!;

        public static async Task<SilentListener> StartAsync()
        {
            var silent = new SilentListener();
            silent._listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            // Linux queues backlog + 1 connections and then drops further handshakes; never accepting keeps it full.
            silent._listener.Listen(0);
            var endpoint = (IPEndPoint)silent._listener.LocalEndPoint!;
            silent.Endpoint = new Uri($"http://127.0.0.1:{endpoint.Port}/");
            for (var i = 0; i < 4; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                using var attempt = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
                try
                {
                    await socket.ConnectAsync(endpoint, attempt.Token);
                    silent._queued.Add(socket);
                }
                catch (OperationCanceledException)
                {
                    socket.Dispose();
                    return silent;
                }
            }
            throw new InvalidOperationException("The accept queue never filled up: this OS accepts more than expected.");
        }

        public void Dispose()
        {
            foreach (var socket in _queued)
            {
                socket.Dispose();
            }
            _listener.Dispose();
        }
    }
}
