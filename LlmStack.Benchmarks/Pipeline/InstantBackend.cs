using System.Runtime.CompilerServices;
using LlmStack.Api.Backends;
using LlmStack.Api.Configuration;
using LlmStack.Api.Pipeline;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace LlmStack.Benchmarks.Pipeline;

/// <summary>
/// A backend whose model answers at once ("Hello", " world", "!", then usage): whatever a request costs with it,
/// the API's own layers cost.
/// </summary>
internal sealed class InstantBackend : IModelBackend
{
    public const string BackendName = "instant";

    public string Name => BackendName;

    public IEnumerable<string> Validate(ModelOptions options, string keyPrefix) => [];

    public Task<ServedModel> CreateAsync(ModelOptions options, CancellationToken cancellationToken) => Task.FromResult(new ServedModel
    {
        Id = options.Id,
        Backend = Name,
        ChatClient = new InstantChatClient(),
        CheckReadyAsync = _ => Task.FromResult(HealthCheckResult.Healthy()),
    });

    private sealed class InstantChatClient : IChatClient
    {
        private static readonly string[] Pieces = ["Hello", " world", "!"];

        public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
            await GetStreamingResponseAsync(messages, options, cancellationToken).ToChatResponseAsync(cancellationToken);

        public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
            IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            foreach (var piece in Pieces)
            {
                await Task.Yield();
                yield return new ChatResponseUpdate(ChatRole.Assistant, piece);
            }
            yield return new ChatResponseUpdate(ChatRole.Assistant,
                [new UsageContent(new UsageDetails { InputTokenCount = 7, OutputTokenCount = Pieces.Length, TotalTokenCount = 7 + Pieces.Length })])
            {
                FinishReason = ChatFinishReason.Stop,
            };
        }

        public object? GetService(Type serviceType, object? serviceKey = null) => null;

        public void Dispose()
        {
        }
    }
}
