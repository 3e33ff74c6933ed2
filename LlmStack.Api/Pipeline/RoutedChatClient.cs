using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace LlmStack.Api.Pipeline;

/// <summary>
/// The chat client of a model with replicas: each call goes to the replica <see cref="ReplicaSet"/> chooses, and moves to
/// another while nothing has reached the client. A stream's updates are held back until its first token (an opening
/// update with only a role is no token), so a replica that fails before it can still be replaced; once the first token
/// is out, the stream is that replica's to the end.
/// </summary>
internal sealed class RoutedChatClient(ReplicaSet replicas) : IChatClient
{
    public async Task<ChatResponse> GetResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var (sent, turn) = ConversationTurn.Take(options);
        // Hashed only when affinity is on.
        var keys = replicas.Affinity is null ? default : ConversationKeys.Of(messages, turn);
        var preferred = replicas.Affinity?.Find(keys);
        var attempts = new RouteAttempts();
        while (true)
        {
            var replica = replicas.Choose(preferred, attempts.Tried) ?? throw replicas.NoneLeft(attempts);
            attempts.Trying(replica);
            using var call = replica.Start(replicas.Metrics);
            try
            {
                var response = await replica.Chat.GetResponseAsync(messages, sent, cancellationToken);
                replicas.Succeeded(call, firstToken: false);
                replicas.Affinity?.Record(keys, replica.Index);
                return response;
            }
            catch (Exception ex) when (replicas.TryAnother(replica, ex, attempts, cancellationToken))
            {
                // The next replica; nothing reached the client.
            }
        }
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var (sent, turn) = ConversationTurn.Take(options);
        // Hashed only when affinity is on.
        var keys = replicas.Affinity is null ? default : ConversationKeys.Of(messages, turn);
        var preferred = replicas.Affinity?.Find(keys);
        var attempts = new RouteAttempts();
        Replica.Call call;
        IAsyncEnumerator<ChatResponseUpdate> updates;
        var held = new List<ChatResponseUpdate>(2);
        bool ended;
        while (true)
        {
            var replica = replicas.Choose(preferred, attempts.Tried) ?? throw replicas.NoneLeft(attempts);
            attempts.Trying(replica);
            call = replica.Start(replicas.Metrics);
            updates = replica.Chat.GetStreamingResponseAsync(messages, sent, cancellationToken).GetAsyncEnumerator(cancellationToken);
            held.Clear();
            try
            {
                ended = await ReadToFirstTokenAsync(updates, held);
                break;
            }
            catch (Exception ex) when (replicas.TryAnother(replica, ex, attempts, cancellationToken))
            {
                await updates.DisposeAsync();
                call.Dispose();
            }
            catch
            {
                await updates.DisposeAsync();
                call.Dispose();
                throw;
            }
        }

        try
        {
            replicas.Succeeded(call, firstToken: !ended);
            replicas.Affinity?.Record(keys, call.Replica.Index);
            foreach (var update in held)
            {
                yield return update;
            }
            while (!ended)
            {
                try
                {
                    ended = !await updates.MoveNextAsync();
                }
                catch (Exception ex)
                {
                    replicas.FailedMidStream(call.Replica, ex, cancellationToken);
                    throw;
                }
                if (!ended)
                {
                    yield return updates.Current;
                }
            }
        }
        finally
        {
            await updates.DisposeAsync();
            call.Dispose();
        }
    }

    /// <summary>Reads updates into <paramref name="held"/> up to and including the first that carries a token; true when the stream ended first.</summary>
    private static async Task<bool> ReadToFirstTokenAsync(IAsyncEnumerator<ChatResponseUpdate> updates, List<ChatResponseUpdate> held)
    {
        while (await updates.MoveNextAsync())
        {
            held.Add(updates.Current);
            if (updates.Current.HasContent())
            {
                return false;
            }
        }
        return true;
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is null && serviceType.IsInstanceOfType(this) ? this : null;

    public void Dispose()
    {
        // The replicas belong to the model (ReplicaSet), released with it.
    }
}
