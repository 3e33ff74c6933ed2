using System.Runtime.CompilerServices;
using LlmStack.Tests.Fixtures;
using Microsoft.Extensions.AI;

namespace LlmStack.Tests.Api.Limits;

/// <summary>
/// A scripted model whose replies send "Hello" and then wait until the test releases them (or, with
/// <c>endless</c>, keep streaming until cancelled): requests that stay in flight exactly as long as a test needs.
/// </summary>
internal sealed class HeldModel
{
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _started;

    public HeldModel(bool endless = false)
    {
        Client = new InMemoryChatClient((_, _, cancellationToken) => Reply(endless, cancellationToken));
    }

    public InMemoryChatClient Client { get; }

    /// <summary>Replies that reached the model.</summary>
    public int Started => Volatile.Read(ref _started);

    public void Release() => _release.TrySetResult();

    private async IAsyncEnumerable<ChatResponseUpdate> Reply(bool endless, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _started);
        await Task.Yield();
        yield return new ChatResponseUpdate(ChatRole.Assistant, "Hello");
        if (endless)
        {
            while (true)
            {
                await Task.Delay(20, cancellationToken);
                yield return new ChatResponseUpdate(ChatRole.Assistant, " again");
            }
        }
        await _release.Task.WaitAsync(cancellationToken);
        yield return new ChatResponseUpdate(ChatRole.Assistant, " there");
        yield return new ChatResponseUpdate(ChatRole.Assistant, [new UsageContent(new UsageDetails { InputTokenCount = 3, OutputTokenCount = 2, TotalTokenCount = 5 })])
        {
            FinishReason = ChatFinishReason.Stop,
        };
    }
}
